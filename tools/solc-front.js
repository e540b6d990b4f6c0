#!/usr/bin/env node
// Native-style `solc` command line over solc-js (the npm `solc` package).
//
// py-solc-x (used by ape-solidity) drives a native solc binary. No native solc installs from
// PyPI, npm or Debian, so this front answers the two calls py-solc-x makes:
//   solc --version
//   solc --standard-json [--base-path P] [--include-path P]... [--allow-paths P[,P]...]
// reading the standard-JSON input on stdin and writing the output on stdout.
//
// Imports are resolved against, in order: the base path, each include path, the current
// directory, then as an absolute path. Every resolved file must lie under one of the allowed
// roots (base, include, allow paths, cwd) - the same rule native solc applies.
//
// The output is written synchronously: an async write followed by exit truncates pipes at 64 KiB.
'use strict';
const fs = require('fs');
const path = require('path');

const SOLCJS = process.env.KEEL_SOLCJS || path.join(__dirname, '..', 'node_modules', 'solc');

function loadSolc() {
  try {
    return require(SOLCJS);
  } catch (e) {
    fs.writeSync(2, `solc-front: cannot load solc-js from ${SOLCJS}: ${e.message}\n`);
    process.exit(2);
  }
}

function usage(msg) {
  fs.writeSync(2, `solc-front: ${msg}\nusage: solc --version | solc --standard-json ` +
    `[--base-path P] [--include-path P]... [--allow-paths P[,P]...]\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, basePath: null, includePaths: [], allowPaths: [] };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let val = null;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) { val = a.slice(eq + 1); a = a.slice(0, eq); }
    const next = () => {
      if (val !== null) return val;
      if (i + 1 >= argv.length) usage(`option ${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--version': opts.version = true; break;
      case '--standard-json': opts.standardJson = true; break;
      case '--base-path': opts.basePath = next(); break;
      case '--include-path': opts.includePaths.push(next()); break;
      case '--allow-paths': opts.allowPaths.push(...next().split(',').filter(Boolean)); break;
      case '-': break; // stdin marker
      default: usage(`unsupported option ${a}`);
    }
  }
  return opts;
}

function nativeVersion(solc) {
  // solc-js reports e.g. "0.8.28+commit.7893614a.Emscripten.clang"; native prints ".Linux.g++".
  const m = /^(\d+\.\d+\.\d+)\+commit\.([0-9a-f]+)/.exec(solc.version());
  if (!m) return solc.version();
  return `${m[1]}+commit.${m[2]}.Linux.g++`;
}

function makeImportCallback(opts) {
  const cwd = process.cwd();
  const roots = [];
  if (opts.basePath) roots.push(path.resolve(cwd, opts.basePath));
  for (const p of opts.includePaths) roots.push(path.resolve(cwd, p));
  const searchRoots = roots.concat([cwd]);
  const allowed = searchRoots.concat(opts.allowPaths.map((p) => path.resolve(cwd, p)));
  const isAllowed = (f) => allowed.some((r) => f === r || f.startsWith(r.endsWith(path.sep) ? r : r + path.sep));
  return (importPath) => {
    const candidates = path.isAbsolute(importPath)
      ? [importPath]
      : searchRoots.map((r) => path.join(r, importPath));
    for (const c of candidates) {
      const real = path.resolve(c);
      if (fs.existsSync(real) && fs.statSync(real).isFile()) {
        if (!isAllowed(real)) return { error: `File outside of allowed directories: ${importPath}` };
        return { contents: fs.readFileSync(real, 'utf8') };
      }
    }
    return { error: `File not found: ${importPath} (searched ${searchRoots.join(', ')})` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.version) {
    const solc = loadSolc();
    fs.writeSync(1, `solc, the solidity compiler commandline interface\nVersion: ${nativeVersion(solc)}\n`);
    return 0;
  }
  if (!opts.standardJson) usage('nothing to do (only --version and --standard-json are supported)');
  const input = fs.readFileSync(0, 'utf8');
  try {
    JSON.parse(input);
  } catch (e) {
    const err = { errors: [{ component: 'general', formattedMessage: `Input is not valid JSON: ${e.message}`,
      message: `Input is not valid JSON: ${e.message}`, severity: 'error', type: 'JSONError' }] };
    fs.writeSync(1, JSON.stringify(err) + '\n');
    return 0; // native solc also exits 0 and reports errors inside the JSON
  }
  const solc = loadSolc();
  const output = solc.compile(input, { import: makeImportCallback(opts) });
  // writeSync may write partially on pipes; loop until everything is out.
  const buf = Buffer.from(output + '\n', 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(1, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
  return 0;
}

process.exitCode = main();
