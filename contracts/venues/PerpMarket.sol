// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IPerpMarket} from "../interfaces/IPerpMarket.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {PerpMath} from "../libraries/PerpMath.sol";

/// @title PerpMarket
/// @notice Reference venue: a linear, USDC-margined ETH perpetual with isolated margin, the venue's LP pool
///         as counterparty, continuous funding, permissionless liquidation and an explicit bad-debt
///         waterfall. Formulas and rounding: PerpMath (they are keeper/risk.py's, in integers).
///
/// ACCOUNTING
///   Per account: size s (ETH wad), entry price EP (wad), settled margin m (USDC, signed), funding
///   snapshot. Globally: the cumulative funding index F (USD per ETH of long size, wad), the LP pool
///   balance (USDC, signed), the insurance fund (USDC), cumulative socialised bad debt.
///   Every transfer of value is between an account's margin and the pool or the insurance fund, so
///       collateral.balanceOf(this) = Σ m + pool + insurance (+ anything donated by plain transfer).
///   - Funding: F advances on every touch by rate_per_sec · P · dt / 1e18, with the rate and index price
///     read at the touch (piecewise constant between touches; anyone can `accrueFunding()` to sample it
///     more often). An account with size s settles ⌊−(F − snapshot)·s / 1e30⌋ into its margin on every
///     trade, withdrawal or liquidation; the pool pays/receives the other side, so between a long and a
///     short of equal size funding is zero-sum up to one USDC unit per settlement, kept by the pool.
///     Payment per second = rate_per_sec × size × index price; longs pay when the rate is positive.
///   - Trades execute at the index price (mark = index: no price impact). Increasing a position moves
///     EP to the size-weighted average (rounded against the trader); reducing realises
///     ⌊(P − EP)·closed⌋ into margin against the pool and keeps EP; a flip closes the old side in full
///     and opens the rest at EP = P. The fee ⌈bps·|Δ|·P⌉ goes from margin to the pool.
///   - Liquidation closes the whole position at P once equity < ⌈mmr·|s|·P⌉: PnL realised, penalty
///     = min(⌈penaltyBps·|s|·P⌉, max(equity, 0)) from margin, of which ⌊shareBps⌋ to the caller and the
///     rest to the insurance fund; what is left stays as the (now flat) account's margin. No trading fee.
///   - Bad debt (equity < 0 at liquidation): the shortfall is covered by the insurance fund first; the
///     rest is socialised to the LP pool (the pool had booked the trader's full loss as its gain but
///     only the margin existed to pay it), added to `badDebtUsdc()`, event `BadDebt`.
///   - Solvency: the pool may go negative (traders won more than LPs put in). Realised profit is then an
///     IOU: margin withdrawals are paid only while the venue's cash outside the insurance fund and the
///     pool's positive balance covers them (available = balance − insurance − max(pool, 0)); otherwise
///     `PoolInsolvent(requested, available, pool)`. First come, first served; LPs refill the pool.
///
/// THREAT MODEL
/// - Oracle: the mark is the index, so whoever controls the feed controls every PnL. Reads are
///   validated minimally here (answer > 0, updatedAt ≠ 0 and not in the future, age ≤ oracleMaxAge);
///   `_indexPriceWad` and `_fundingRatePerSecWad` are the single place where OracleLib (deviation bound,
///   circuit breaker) will plug in. A failed oracle reverts trades, liquidations, withdrawals of open
///   accounts and oracle views; it never blocks margin top-ups (a trader can always add margin) nor
///   withdrawals of flat accounts. The funding rate is clamped to ±maxFundingRate8hWad.
/// - Oracle front-running: trades execute at the last oracle round, so a trader who sees the next
///   round coming can trade ahead of it. The trading fee (and OracleLib's deviation bound) limit the
///   edge; a production venue would add a spread or delayed settlement. Likewise the funding rate read
///   at a touch applies to the whole interval since the previous touch: keepers bound that choice by
///   calling `accrueFunding()` often (the clamp bounds it absolutely).
/// - Rounding: every conversion favours the venue: money owed to it rounds up (fees, requirements,
///   losses, funding paid), money it owes rounds down (gains, funding received). Entry prices round
///   against the trader. So rounding can never make the pool pay out more than the exact formulas.
/// - Reentrancy: every external mutating function is `nonReentrant` (transient guard); state is written
///   before any token transfer (checks-effects-interactions).
/// - Liquidation: permissionless and all-or-nothing at the index (no auction, so no liquidator
///   price games); traders can avoid it by topping up margin or reducing, which is always allowed while
///   equity ≥ 0. Self-liquidation only returns part of one's own penalty. The liquidator's share is
///   bounded (≤ 50% of the penalty).
/// - Dust: every trade pays a fee of at least one USDC unit when the fee rate is non-zero.
/// - Governance (trusted within bounds): margin rates, fee, penalty, funding clamp and oracle age have
///   hard maxima; changes apply to open positions at once (a higher mmr can make accounts liquidatable).
///   Governance can withdraw the pool's positive balance even while traders hold unrealised profit
///   (the pool then may not cover those profits: see Solvency); it can never touch margins or the
///   insurance fund. There is no pause: trading halts only through the oracle.
/// - Not modelled (a reference venue): price impact, open-interest caps, auto-deleveraging, LP shares.
contract PerpMarket is AccessControlDefaultAdminRules, ReentrancyGuardTransient, IPerpMarket {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    bytes32 public constant GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE");

    uint256 public constant MAX_IMR_WAD = 1e18;
    uint256 public constant MAX_TRADING_FEE_BPS = 100;
    uint256 public constant MAX_LIQUIDATION_PENALTY_BPS = 500;
    uint256 public constant MAX_LIQUIDATOR_SHARE_BPS = 5_000;
    uint256 public constant MAX_FUNDING_RATE_8H_WAD = 0.05e18;
    uint256 public constant MIN_ORACLE_MAX_AGE = 60;
    uint256 public constant MAX_ORACLE_MAX_AGE = 2 days;
    /// @notice The funding feed's rate is per this many seconds.
    uint256 public constant FUNDING_PERIOD = 8 hours;

    uint256 private constant WAD = 1e18;
    uint256 private constant BPS = 10_000;

    IERC20 private immutable _collateral;
    AggregatorV3Interface private immutable _priceFeed;
    AggregatorV3Interface private immutable _fundingFeed;
    /// @dev 10**(18 − decimals) of each feed.
    uint256 private immutable _priceScale;
    uint256 private immutable _fundingScale;

    // One slot: read by every trade.
    uint64 private _imrWad;
    uint64 private _mmrWad;
    uint16 private _tradingFeeBps;
    uint16 private _liquidationPenaltyBps;
    uint16 private _liquidatorShareBps;
    uint32 private _oracleMaxAge;
    // One slot: the funding clock.
    int128 private _cumFundingWad;
    uint64 private _lastFundingUpdate;
    uint64 private _maxFundingRate8hWad;
    // One slot: the house.
    int128 private _poolUsdc;
    uint128 private _insuranceUsdc;
    uint256 private _badDebtUsdc;

    /// @dev Two slots per account.
    struct Account {
        int128 size;
        uint128 entryPrice;
        int128 margin;
        int128 fundingSnapshot;
    }

    /// @dev Working copy of an account in memory.
    struct Acc {
        int256 size;
        uint256 entry;
        int256 margin;
        int256 snap;
    }

    mapping(address account => Account) private _accounts;

    /// @param collateral_ USDC (6 decimals; any decimals ≤ 18 would need a different SCALE: not supported).
    /// @param priceFeed_ ETH/USD spot feed (any decimals ≤ 18; 8 on Chainlink).
    /// @param fundingFeed_ 8-hour funding-rate feed, `10**decimals()` = 100% per 8 hours.
    /// @param admin Default admin (role management); transfers are two-step with `adminDelay`.
    constructor(
        IERC20 collateral_,
        AggregatorV3Interface priceFeed_,
        AggregatorV3Interface fundingFeed_,
        address admin,
        uint48 adminDelay,
        address governance,
        MarketParams memory params_
    ) AccessControlDefaultAdminRules(adminDelay, admin) {
        if (address(collateral_) == address(0)) revert ZeroAddress("collateral");
        if (address(priceFeed_) == address(0)) revert ZeroAddress("priceFeed");
        if (address(fundingFeed_) == address(0)) revert ZeroAddress("fundingFeed");
        if (governance == address(0)) revert ZeroAddress("governance");
        _collateral = collateral_;
        _priceFeed = priceFeed_;
        _fundingFeed = fundingFeed_;
        _priceScale = _scaleOf(priceFeed_);
        _fundingScale = _scaleOf(fundingFeed_);
        _grantRole(GOVERNANCE_ROLE, governance);
        _setMarginRates(params_.imrWad, params_.mmrWad);
        _setTradingFee(params_.tradingFeeBps);
        _setLiquidationPenalty(params_.liquidationPenaltyBps, params_.liquidatorShareBps);
        _setMaxFundingRate(params_.maxFundingRate8hWad);
        _setOracleMaxAge(params_.oracleMaxAge);
        _lastFundingUpdate = uint64(block.timestamp);
    }

    // =================================================================== oracle reads (OracleLib goes here)

    /// @dev THE place the index price is read; the lead switches it to OracleLib (deviation bound,
    ///      circuit breaker). Minimal checks for now: a complete, fresh round (see `_checkFresh`) and
    ///      0 < answer, normalised to wad, ≤ 2^128 − 1.
    function _indexPriceWad() internal view virtual returns (uint256 priceWad) {
        (, int256 answer,, uint256 updatedAt,) = _priceFeed.latestRoundData();
        _checkFresh(address(_priceFeed), updatedAt);
        if (answer <= 0 || uint256(answer) > type(uint128).max / _priceScale) {
            revert InvalidOraclePrice(address(_priceFeed), answer);
        }
        priceWad = uint256(answer) * _priceScale;
    }

    /// @dev THE place the funding rate is read; the lead switches it to OracleLib. The feed gives the
    ///      8-hour rate with `10**decimals()` = 100%; it is normalised to wad, clamped to
    ///      ±maxFundingRate8hWad, and divided by 28_800 s (truncated toward zero). Any sign is valid.
    function _fundingRatePerSecWad() internal view virtual returns (int256 ratePerSecWad) {
        (, int256 answer,, uint256 updatedAt,) = _fundingFeed.latestRoundData();
        _checkFresh(address(_fundingFeed), updatedAt);
        int256 cap = int256(uint256(_maxFundingRate8hWad));
        // Clamp in feed units first (an absurd answer cannot overflow the normalisation).
        int256 bound = int256(uint256(type(uint128).max));
        if (answer > bound) answer = bound;
        else if (answer < -bound) answer = -bound;
        int256 rate8hWad = answer * int256(_fundingScale);
        if (rate8hWad > cap) rate8hWad = cap;
        else if (rate8hWad < -cap) rate8hWad = -cap;
        ratePerSecWad = rate8hWad / int256(FUNDING_PERIOD);
    }

    function _checkFresh(address feed, uint256 updatedAt) internal view {
        uint256 maxAge = _oracleMaxAge;
        if (updatedAt == 0 || updatedAt > block.timestamp || block.timestamp - updatedAt > maxAge) {
            revert StaleOracle(feed, updatedAt, block.timestamp, maxAge);
        }
    }

    function _scaleOf(AggregatorV3Interface feed) private view returns (uint256) {
        uint8 dec = feed.decimals();
        if (dec > 18) revert OracleDecimalsUnsupported(address(feed), dec);
        return 10 ** (18 - uint256(dec));
    }

    // =================================================================== views

    function collateral() external view returns (address) {
        return address(_collateral);
    }

    function priceFeed() external view returns (address) {
        return address(_priceFeed);
    }

    function fundingFeed() external view returns (address) {
        return address(_fundingFeed);
    }

    function params() external view returns (MarketParams memory) {
        return MarketParams({
            imrWad: _imrWad,
            mmrWad: _mmrWad,
            tradingFeeBps: _tradingFeeBps,
            liquidationPenaltyBps: _liquidationPenaltyBps,
            liquidatorShareBps: _liquidatorShareBps,
            maxFundingRate8hWad: _maxFundingRate8hWad,
            oracleMaxAge: _oracleMaxAge
        });
    }

    function indexPriceWad() external view returns (uint256) {
        return _indexPriceWad();
    }

    function fundingRatePerSecWad() external view returns (int256) {
        return _fundingRatePerSecWad();
    }

    function cumulativeFundingWad() external view returns (int256 cum) {
        (cum,,) = _fundingIndexNow(_indexPriceWad());
    }

    function lastFundingUpdate() external view returns (uint256) {
        return _lastFundingUpdate;
    }

    function position(address account) external view returns (Position memory) {
        return _position(_load(account));
    }

    function accountView(address account) external view returns (AccountView memory v) {
        Acc memory a = _load(account);
        uint256 priceWad = _indexPriceWad();
        (int256 cum,,) = _fundingIndexNow(priceWad);
        v.position = _position(a);
        v.indexPriceWad = priceWad;
        v.pendingFundingUsdc = PerpMath.fundingUsdcDown(a.size, cum - a.snap);
        v.equityUsdc = a.margin + PerpMath.pnlUsdcDown(a.size, a.entry, priceWad) + v.pendingFundingUsdc;
        v.initialMarginUsdc = PerpMath.requirementUsdcUp(a.size, priceWad, _imrWad);
        v.maintenanceMarginUsdc = PerpMath.requirementUsdcUp(a.size, priceWad, _mmrWad);
        v.marginRatioWad = PerpMath.marginRatioWadDown(v.equityUsdc, a.size, priceWad, _mmrWad);
        v.liquidationPriceWad =
            PerpMath.liquidationPriceWad(a.size, a.entry, a.margin + v.pendingFundingUsdc, _mmrWad);
    }

    function accountEquityUsdc(address account) external view returns (int256) {
        Acc memory a = _load(account);
        if (a.size == 0) return a.margin;
        (int256 equity,) = _markedEquity(a);
        return equity;
    }

    function accountBook(address account) external view returns (int256 sizeWad, int256 equityUsdc, uint256 mmrWad) {
        Acc memory a = _load(account);
        if (a.size == 0) return (0, a.margin, _mmrWad);
        (equityUsdc,) = _markedEquity(a);
        return (a.size, equityUsdc, _mmrWad);
    }

    function pendingFundingUsdc(address account) external view returns (int256) {
        Acc memory a = _load(account);
        if (a.size == 0) return 0;
        return _pendingFunding(a, _indexPriceWad());
    }

    function maintenanceMarginUsdc(address account) external view returns (uint256) {
        Acc memory a = _load(account);
        if (a.size == 0) return 0;
        return PerpMath.requirementUsdcUp(a.size, _indexPriceWad(), _mmrWad);
    }

    function initialMarginUsdc(address account) external view returns (uint256) {
        Acc memory a = _load(account);
        if (a.size == 0) return 0;
        return PerpMath.requirementUsdcUp(a.size, _indexPriceWad(), _imrWad);
    }

    function marginRatioWad(address account) external view returns (int256) {
        Acc memory a = _load(account);
        if (a.size == 0) return type(int256).max;
        (int256 equity, uint256 priceWad) = _markedEquity(a);
        return PerpMath.marginRatioWadDown(equity, a.size, priceWad, _mmrWad);
    }

    function liquidationPriceWad(address account) external view returns (uint256) {
        Acc memory a = _load(account);
        if (a.size == 0) return 0;
        int256 f = _pendingFunding(a, _indexPriceWad());
        return PerpMath.liquidationPriceWad(a.size, a.entry, a.margin + f, _mmrWad);
    }

    function isLiquidatable(address account) external view returns (bool) {
        Acc memory a = _load(account);
        if (a.size == 0) return false;
        (int256 equity, uint256 priceWad) = _markedEquity(a);
        return equity < PerpMath.requirementUsdcUp(a.size, priceWad, _mmrWad).toInt256();
    }

    function withdrawableMarginUsdc(address account) external view returns (uint256) {
        Acc memory a = _load(account);
        int256 pool = _poolUsdc;
        int256 free = a.margin;
        if (a.size != 0) {
            uint256 priceWad = _indexPriceWad();
            int256 f = _pendingFunding(a, priceWad);
            pool -= f;
            free += f;
            int256 excess = free + PerpMath.pnlUsdcDown(a.size, a.entry, priceWad)
                - PerpMath.requirementUsdcUp(a.size, priceWad, _imrWad).toInt256();
            if (excess < free) free = excess;
        }
        if (free <= 0) return 0;
        uint256 available = _traderCash(pool);
        return uint256(free) < available ? uint256(free) : available;
    }

    function poolUsdc() external view returns (int256) {
        return _poolUsdc;
    }

    function insuranceFundUsdc() external view returns (uint256) {
        return _insuranceUsdc;
    }

    function badDebtUsdc() external view returns (uint256) {
        return _badDebtUsdc;
    }

    // =================================================================== accounts

    /// @inheritdoc IPerpMarket
    function depositMargin(address account, uint256 amountUsdc) external nonReentrant {
        if (account == address(0)) revert ZeroAddress("account");
        if (amountUsdc == 0) revert ZeroAmount("amount");
        Account storage s = _accounts[account];
        s.margin = (int256(s.margin) + amountUsdc.toInt256()).toInt128();
        emit MarginDeposited(account, msg.sender, amountUsdc);
        _collateral.safeTransferFrom(msg.sender, address(this), amountUsdc);
    }

    /// @inheritdoc IPerpMarket
    function withdrawMargin(uint256 amountUsdc, address to) external nonReentrant {
        if (amountUsdc == 0) revert ZeroAmount("amount");
        if (to == address(0)) revert ZeroAddress("to");
        Acc memory a = _load(msg.sender);
        int256 pool = _poolUsdc;
        uint256 priceWad;
        if (a.size != 0) {
            priceWad = _indexPriceWad();
            pool -= _settleFunding(msg.sender, a, _accrueFunding(priceWad));
        }
        int256 amount = amountUsdc.toInt256();
        if (amount > a.margin) revert InsufficientMargin(msg.sender, amountUsdc, a.margin);
        a.margin -= amount;
        if (a.size != 0) {
            int256 equity = a.margin + PerpMath.pnlUsdcDown(a.size, a.entry, priceWad);
            uint256 required = PerpMath.requirementUsdcUp(a.size, priceWad, _imrWad);
            if (equity < required.toInt256()) revert InitialMarginBreached(msg.sender, equity, required);
        }
        uint256 available = _traderCash(pool);
        if (amountUsdc > available) revert PoolInsolvent(amountUsdc, available, pool);
        _store(msg.sender, a);
        _poolUsdc = pool.toInt128();
        emit MarginWithdrawn(msg.sender, to, amountUsdc);
        _collateral.safeTransfer(to, amountUsdc);
    }

    /// @inheritdoc IPerpMarket
    function trade(int256 sizeDeltaWad, uint256 limitPriceWad)
        external
        nonReentrant
        returns (uint256 priceWad, uint256 feeUsdc, int256 realisedPnlUsdc)
    {
        if (sizeDeltaWad == 0) revert ZeroAmount("sizeDelta");
        priceWad = _indexPriceWad();
        if (sizeDeltaWad > 0 ? priceWad > limitPriceWad : priceWad < limitPriceWad) {
            revert LimitPriceExceeded(sizeDeltaWad, priceWad, limitPriceWad);
        }
        Acc memory a = _load(msg.sender);
        int256 pool = _poolUsdc - _settleFunding(msg.sender, a, _accrueFunding(priceWad));

        int256 oldSize = a.size;
        if (oldSize == 0 || (oldSize > 0) == (sizeDeltaWad > 0)) {
            // Open or increase: average entry, rounded against the trader.
            a.entry = PerpMath.entryPriceAgainstTraderWad(oldSize, a.entry, sizeDeltaWad, priceWad);
            a.size = oldSize + sizeDeltaWad;
        } else {
            // Reduce, close or flip: realise PnL on the closed part.
            uint256 held = SignedMath.abs(oldSize);
            uint256 traded = SignedMath.abs(sizeDeltaWad);
            int256 closed = traded >= held ? oldSize : -sizeDeltaWad; // signed like the old position
            realisedPnlUsdc = PerpMath.pnlUsdcDown(closed, a.entry, priceWad);
            a.margin += realisedPnlUsdc;
            a.size = oldSize + sizeDeltaWad;
            if (a.size == 0) a.entry = 0;
            else if (traded > held) a.entry = priceWad; // flipped: the rest opens at the price
        }
        feeUsdc = PerpMath.feeUsdcUp(SignedMath.abs(sizeDeltaWad), priceWad, _tradingFeeBps);
        a.margin -= feeUsdc.toInt256();
        pool += feeUsdc.toInt256() - realisedPnlUsdc;

        int256 equity = a.margin + PerpMath.pnlUsdcDown(a.size, a.entry, priceWad);
        bool increasesRisk = SignedMath.abs(a.size) > SignedMath.abs(oldSize)
            || (a.size != 0 && oldSize != 0 && (a.size > 0) != (oldSize > 0));
        if (increasesRisk) {
            uint256 required = PerpMath.requirementUsdcUp(a.size, priceWad, _imrWad);
            if (equity < required.toInt256()) revert InitialMarginBreached(msg.sender, equity, required);
        } else if (equity < 0) {
            revert NegativeEquity(msg.sender, equity);
        }
        _store(msg.sender, a);
        _poolUsdc = pool.toInt128();
        emit Traded(msg.sender, sizeDeltaWad, priceWad, feeUsdc, realisedPnlUsdc, a.size, a.entry);
    }

    /// @inheritdoc IPerpMarket
    function liquidate(address account)
        external
        nonReentrant
        returns (uint256 penaltyUsdc, uint256 rewardUsdc, uint256 socialisedUsdc)
    {
        Acc memory a = _load(account);
        if (a.size == 0) revert NoPosition(account);
        uint256 priceWad = _indexPriceWad();
        int256 pool = _poolUsdc - _settleFunding(account, a, _accrueFunding(priceWad));
        int256 pnl = PerpMath.pnlUsdcDown(a.size, a.entry, priceWad);
        int256 equity = a.margin + pnl;
        uint256 maintenance = PerpMath.requirementUsdcUp(a.size, priceWad, _mmrWad);
        if (equity >= maintenance.toInt256()) revert NotLiquidatable(account, equity, maintenance);

        int256 closed = a.size;
        pool -= pnl; // the pool books the trader's PnL in full ...
        if (equity >= 0) {
            penaltyUsdc = PerpMath.feeUsdcUp(SignedMath.abs(closed), priceWad, _liquidationPenaltyBps);
            if (penaltyUsdc > uint256(equity)) penaltyUsdc = uint256(equity);
            rewardUsdc = penaltyUsdc * _liquidatorShareBps / BPS;
            _insuranceUsdc = (uint256(_insuranceUsdc) + penaltyUsdc - rewardUsdc).toUint128();
            a.margin = equity - int256(penaltyUsdc);
        } else {
            // ... but only the margin exists: the shortfall is covered by insurance, then the pool.
            socialisedUsdc = _coverShortfall(account, uint256(-equity));
            pool -= socialisedUsdc.toInt256();
            a.margin = 0;
        }
        a.size = 0;
        a.entry = 0;
        _store(account, a);
        _poolUsdc = pool.toInt128();
        emit Liquidated(account, msg.sender, closed, priceWad, equity, penaltyUsdc, rewardUsdc);
        if (rewardUsdc != 0) _collateral.safeTransfer(msg.sender, rewardUsdc);
    }

    /// @dev Takes what it can of `shortfall` from the insurance fund; returns the rest (socialised).
    function _coverShortfall(address account, uint256 shortfall) internal returns (uint256 socialised) {
        uint256 insurance = _insuranceUsdc;
        uint256 covered = shortfall < insurance ? shortfall : insurance;
        socialised = shortfall - covered;
        _insuranceUsdc = uint128(insurance - covered);
        _badDebtUsdc += socialised;
        emit BadDebt(account, shortfall, covered, socialised);
    }

    /// @inheritdoc IPerpMarket
    function accrueFunding() external nonReentrant returns (int256 cumulativeFundingWad_) {
        return _accrueFunding(_indexPriceWad());
    }

    // =================================================================== house

    /// @inheritdoc IPerpMarket
    function depositPool(uint256 amountUsdc) external nonReentrant {
        if (amountUsdc == 0) revert ZeroAmount("amount");
        _poolUsdc = (int256(_poolUsdc) + amountUsdc.toInt256()).toInt128();
        emit PoolDeposited(msg.sender, amountUsdc);
        _collateral.safeTransferFrom(msg.sender, address(this), amountUsdc);
    }

    /// @inheritdoc IPerpMarket
    function depositInsurance(uint256 amountUsdc) external nonReentrant {
        if (amountUsdc == 0) revert ZeroAmount("amount");
        _insuranceUsdc = (uint256(_insuranceUsdc) + amountUsdc).toUint128();
        emit InsuranceDeposited(msg.sender, amountUsdc);
        _collateral.safeTransferFrom(msg.sender, address(this), amountUsdc);
    }

    /// @inheritdoc IPerpMarket
    function withdrawPool(uint256 amountUsdc, address to) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        if (amountUsdc == 0) revert ZeroAmount("amount");
        if (to == address(0)) revert ZeroAddress("to");
        int256 pool = _poolUsdc;
        int256 amount = amountUsdc.toInt256();
        if (amount > pool) revert InsufficientPool(amountUsdc, pool);
        _poolUsdc = (pool - amount).toInt128();
        emit PoolWithdrawn(to, amountUsdc);
        _collateral.safeTransfer(to, amountUsdc);
    }

    // =================================================================== governance

    function setMarginRates(uint256 imrWad, uint256 mmrWad) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        _setMarginRates(imrWad, mmrWad);
    }

    function setTradingFee(uint256 feeBps) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        _setTradingFee(feeBps);
    }

    function setLiquidationPenalty(uint256 penaltyBps, uint256 liquidatorShareBps)
        external
        nonReentrant
        onlyRole(GOVERNANCE_ROLE)
    {
        _setLiquidationPenalty(penaltyBps, liquidatorShareBps);
    }

    function setMaxFundingRate(uint256 rate8hWad) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        if (rate8hWad > MAX_FUNDING_RATE_8H_WAD) revert MaxFundingRateTooHigh(rate8hWad, MAX_FUNDING_RATE_8H_WAD);
        _accrueFunding(_indexPriceWad()); // the old clamp applies up to now
        _setMaxFundingRate(rate8hWad);
    }

    function setOracleMaxAge(uint256 maxAge) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        _setOracleMaxAge(maxAge);
    }

    function _setMarginRates(uint256 imrWad, uint256 mmrWad) internal {
        if (mmrWad == 0 || mmrWad > imrWad || imrWad > MAX_IMR_WAD || mmrWad >= WAD) {
            revert MarginRatesOutOfBounds(imrWad, mmrWad, MAX_IMR_WAD);
        }
        emit MarginRatesSet(_imrWad, _mmrWad, imrWad, mmrWad);
        _imrWad = uint64(imrWad);
        _mmrWad = uint64(mmrWad);
    }

    function _setTradingFee(uint256 feeBps) internal {
        if (feeBps > MAX_TRADING_FEE_BPS) revert TradingFeeTooHigh(feeBps, MAX_TRADING_FEE_BPS);
        emit TradingFeeSet(_tradingFeeBps, feeBps);
        _tradingFeeBps = uint16(feeBps);
    }

    function _setLiquidationPenalty(uint256 penaltyBps, uint256 shareBps) internal {
        if (penaltyBps > MAX_LIQUIDATION_PENALTY_BPS) {
            revert LiquidationPenaltyTooHigh(penaltyBps, MAX_LIQUIDATION_PENALTY_BPS);
        }
        if (shareBps > MAX_LIQUIDATOR_SHARE_BPS) revert LiquidatorShareTooHigh(shareBps, MAX_LIQUIDATOR_SHARE_BPS);
        emit LiquidationPenaltySet(_liquidationPenaltyBps, _liquidatorShareBps, penaltyBps, shareBps);
        _liquidationPenaltyBps = uint16(penaltyBps);
        _liquidatorShareBps = uint16(shareBps);
    }

    function _setMaxFundingRate(uint256 rate8hWad) internal {
        if (rate8hWad > MAX_FUNDING_RATE_8H_WAD) revert MaxFundingRateTooHigh(rate8hWad, MAX_FUNDING_RATE_8H_WAD);
        emit MaxFundingRateSet(_maxFundingRate8hWad, rate8hWad);
        _maxFundingRate8hWad = uint64(rate8hWad);
    }

    function _setOracleMaxAge(uint256 maxAge) internal {
        if (maxAge < MIN_ORACLE_MAX_AGE || maxAge > MAX_ORACLE_MAX_AGE) {
            revert OracleMaxAgeOutOfBounds(maxAge, MIN_ORACLE_MAX_AGE, MAX_ORACLE_MAX_AGE);
        }
        emit OracleMaxAgeSet(_oracleMaxAge, maxAge);
        _oracleMaxAge = uint32(maxAge);
    }

    // =================================================================== internals

    /// @dev The funding index now at `priceWad`, the rate used and the seconds since the last update.
    function _fundingIndexNow(uint256 priceWad)
        internal
        view
        returns (int256 cum, int256 ratePerSecWad, uint256 elapsed)
    {
        cum = _cumFundingWad;
        ratePerSecWad = _fundingRatePerSecWad(); // always read: a dead funding feed halts trading
        elapsed = block.timestamp - _lastFundingUpdate;
        if (elapsed != 0) cum += PerpMath.fundingIndexDeltaWad(ratePerSecWad, priceWad, elapsed);
    }

    function _accrueFunding(uint256 priceWad) internal returns (int256 cum) {
        int256 rate;
        uint256 elapsed;
        (cum, rate, elapsed) = _fundingIndexNow(priceWad);
        if (elapsed == 0) return cum;
        _cumFundingWad = cum.toInt128();
        _lastFundingUpdate = uint64(block.timestamp);
        emit FundingIndexUpdated(cum, rate, priceWad, elapsed);
    }

    /// @dev Books the account's funding since its snapshot into `a.margin` and moves the snapshot to `cum`.
    ///      Returns the amount credited (+) or debited (−); the caller takes the opposite from the pool.
    function _settleFunding(address account, Acc memory a, int256 cum) internal returns (int256 f) {
        if (a.size != 0) {
            f = PerpMath.fundingUsdcDown(a.size, cum - a.snap);
            a.margin += f;
            emit FundingSettled(account, f, cum);
        }
        a.snap = cum;
    }

    function _pendingFunding(Acc memory a, uint256 priceWad) internal view returns (int256) {
        (int256 cum,,) = _fundingIndexNow(priceWad);
        return PerpMath.fundingUsdcDown(a.size, cum - a.snap);
    }

    /// @dev Equity of an open account at the index price, and that price.
    function _markedEquity(Acc memory a) internal view returns (int256 equity, uint256 priceWad) {
        priceWad = _indexPriceWad();
        equity = a.margin + PerpMath.pnlUsdcDown(a.size, a.entry, priceWad) + _pendingFunding(a, priceWad);
    }

    /// @dev Cash traders may withdraw in total: balance − insurance − max(pool, 0), floored at 0.
    function _traderCash(int256 pool) internal view returns (uint256) {
        uint256 reserved = uint256(_insuranceUsdc) + (pool > 0 ? uint256(pool) : 0);
        uint256 balance = _collateral.balanceOf(address(this));
        return balance > reserved ? balance - reserved : 0;
    }

    function _position(Acc memory a) internal pure returns (Position memory) {
        return Position({
            sizeWad: a.size,
            entryPriceWad: a.entry,
            marginUsdc: a.margin,
            fundingIndexSnapshotWad: a.snap
        });
    }

    function _load(address account) internal view returns (Acc memory a) {
        Account storage s = _accounts[account];
        a.size = s.size;
        a.entry = s.entryPrice;
        a.margin = s.margin;
        a.snap = s.fundingSnapshot;
    }

    function _store(address account, Acc memory a) internal {
        Account storage s = _accounts[account];
        s.size = a.size.toInt128();
        s.entryPrice = a.entry.toUint128();
        s.margin = a.margin.toInt128();
        s.fundingSnapshot = a.snap.toInt128();
    }
}
