// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHedgeLeg} from "./IHedgeLeg.sol";
import {IOracle} from "./IOracle.sol";

/// @title IKeelLeg
/// @notice What every Keel leg offers the vault on top of IHedgeLeg: the figures RiskGuard needs (gross
///         exposure, the validated oracle price), the report of every trading action, and the oracle
///         poke. Leg-specific actions live in ISpotLeg / IPerpLeg.
/// @dev Units: `*Wad` = 18 decimals (ETH amounts, USD-per-ETH prices); "assets" = the vault asset's own
///      units (USDC: 6 decimals). Rounding: assets the leg owns round down, liabilities and exposures
///      round up, prices reported to RiskGuard round against the keeper (buys up, sells down).
///
///      ORACLE. Each leg validates the ETH/USD feed with OracleLib and keeps its own `FeedState` (the
///      breaker's reference and trip time), set at construction by one successful read.
///      - Keeper actions read it with `OracleLib.read`: any failed rule (stale, deviation, cooling down,
///        ...) reverts the action with the OracleLib error. A failed oracle halts keeper actions.
///      - Views (`value`, `grossExposure`, `oraclePriceWad`, PerpLeg's `marginRatioWad`) never revert:
///        they use the validated price when the feed passes every rule now (`fresh`), and otherwise the
///        leg's last good price (the breaker reference). Every leg of a vault uses this same rule on
///        the same feed, so a hedged book stays hedged in the NAV while the feed is down.
///      - `pokeOracle()` is the permissionless, non-reverting `OracleLib.update` (see IOracle): the
///        keeper sends it when its mirror (keeper/oracle.py) reports Deviation, which starts the
///        cooldown; it also keeps the leg's reference fresh between actions.
///      - `fund`, `release` and margin top-ups never read the oracle.
interface IKeelLeg is IHedgeLeg {
    /// @notice What one trading action did, for `IRiskGuard.ActionInfo`.
    /// @param notionalAssets Traded notional in assets, rounded up (the larger of the two sides when
    ///        the leg swaps tokens).
    /// @param execPriceWad Average execution price, USD per ETH (wad), all costs included (pool fee,
    ///        venue fee), rounded against the keeper: up for buys, down for sells.
    /// @param oraclePriceWad The validated oracle price the action was checked against (wad).
    /// @param isBuy True when the action bought ETH exposure.
    struct ActionReport {
        uint256 notionalAssets;
        uint256 execPriceWad;
        uint256 oraclePriceWad;
        bool isBuy;
    }

    // ------------------------------------------------------------------ errors
    /// @notice Only the vault may call this function.
    error OnlyVault(address caller, address vault);
    /// @notice An address argument was the zero address.
    error ZeroAddress(string field);
    /// @notice An amount argument was zero where a positive value is required.
    error ZeroAmount(string field);
    /// @notice The action's deadline has passed (`deadline` < now; deadline == now is still valid).
    error DeadlineExpired(uint256 deadline, uint256 nowSec);
    /// @notice The leg holds less of `token` than the action needs. (Not named InsufficientBalance: that
    ///         selector is WETH9's error, with other parameter names.)
    error InsufficientLegBalance(address token, uint256 requested, uint256 available);
    /// @notice A token whose decimals the leg cannot handle.
    error UnsupportedDecimals(address token, uint8 decimals);

    // ------------------------------------------------------------------ events
    /// @notice The vault sent `assets` to the leg; `balance` is the leg's asset balance after it.
    event Funded(uint256 assets, uint256 balance);
    /// @notice The vault asked for `requested`; `released` (≤ requested) was sent to the vault.
    event Released(uint256 requested, uint256 released);

    // ------------------------------------------------------------------ views
    /// @notice |ETH notional| of the leg at the leg's price (`oraclePriceWad`), in assets, rounded up.
    ///         Never reverts.
    function grossExposure() external view returns (uint256 assets);

    /// @notice The leg's ETH/USD price in wad: the validated feed value when `fresh`, otherwise the
    ///         last good price (the value every other view of the leg marks with). Never reverts.
    /// @return priceWad USD per ETH, wad (> 0).
    /// @return fresh True when the feed passes every OracleLib rule now (a keeper action would read it).
    function oraclePriceWad() external view returns (uint256 priceWad, bool fresh);

    /// @notice `OracleLib.peek` of the leg's feed: the verdict a keeper action would get now and the
    ///         normalised value (0 unless Ok or Deviation). Reverts only if the feed's own call reverts.
    function peekOracle() external view returns (IOracle.Verdict verdict, int256 valueWad);

    /// @notice The leg's feed configuration (immutable).
    function oracleConfig() external view returns (IOracle.FeedConfig memory);

    /// @notice The leg's breaker state: last good value, its round time, trip time.
    function oracleState() external view returns (IOracle.FeedState memory);

    // ------------------------------------------------------------------ anyone
    /// @notice `OracleLib.update` of the leg's feed: accepts a good round as the new reference, trips
    ///         the breaker on a deviation, changes nothing otherwise. Permissionless; does not revert
    ///         on bad data (only if the feed's own call reverts).
    function pokeOracle() external returns (IOracle.Verdict verdict, int256 valueWad);
}
