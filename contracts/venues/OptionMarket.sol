// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IOptionMarket} from "../interfaces/IOptionMarket.sol";
import {IOptionOracle} from "../interfaces/IOptionOracle.sol";
import {IOptionPricer} from "../interfaces/IOptionPricer.sol";
import {BlackScholes} from "../libraries/BlackScholes.sol";

/// @title OptionMarket
/// @notice European cash-settled ETH calls (capped) and puts against an LP pool, priced on chain at
///         Black-76. Formulas, units and rounding: IOptionMarket.
///
/// THREAT MODEL
/// - Solvency. Every short is fully collateralised at listing-time constants: a user short locks
///   ⌈maxPayout · size⌉, the pool locks ⌈maxPayout · L⌉ per series for everything users are long. At
///   settlement the pool's credit (locked + ⌊p·S⌋ − ⌈p·L⌉) and the series' claims reserve
///   (⌈p·L⌉ + shortCollateral − ⌊p·S⌋) add up to exactly what the series held, longs claim ⌊p·size⌋
///   and shorts collateral − ⌈p·size⌉, so Σ claims ≤ reserve. The invariant
///   balance ≥ poolFree + poolLocked + heldForAccounts holds after every call (tests check it).
/// - Pricing error. Quotes use BlackScholes' Up/Down bounds at ask/bid volatilities leg by leg, so the
///   pool never sells below or buys above the exact model price at the feed's IV, whatever the
///   fixed-point error; premiums round up for buyers and down for sellers; fees round up.
/// - Oracles. Live values come from the oracle adapter (OptionOracle: OracleLib checks, one breaker
///   state per feed). Trades and LP deposits call its `read`, which reverts with OracleLib's error on
///   a failed check (stale, deviation breaker, non-positive...), so nothing trades on a bad price.
///   Views never revert for an oracle failure (they fall back to the last accepted values or the worst
///   case and say so). Settlement uses historical spot rounds (OptionOracle.settlementPrice: the first
///   round at or after expiry within the window, hint verified on chain, deviation checked against the
///   round before it), never a live price; claims read no price at all.
/// - LP pool. Internal share accounting (donations are ignored; 1e6 virtual shares and 1 virtual
///   asset); deposits price the pool at navHigh and withdrawals at navLow (mark bounds), so no
///   deposit/withdraw sequence extracts value from rounding or model error. Withdrawals stay possible
///   when an oracle fails (the pool is then valued at its worst case, its free balance).
/// - Reentrancy. Every external mutating function is `nonReentrant` (transient guard) and follows
///   checks-effects-interactions: the oracle adapter and the pricer (immutable, trusted, no callbacks)
///   are called before any state change; the asset transfers come last.
/// - Governance (GOVERNANCE_ROLE): lists series and sets bounded parameters (IV spread ≤ 0.2 vol, fee
///   ≤ 5 % of premium, window 5 min..1 day, min vol 0.01..1; oracle bounds live in the adapter, the
///   pricer has none); pricer, oracle and asset are immutable. It cannot move funds or
///   change a listed series. Its only price power is the fallback settlement, opened only one day
///   after the settlement window closed without a usable feed round. Roles are granted by a default
///   admin whose transfer is two-step with a delay.
/// - Gas bounds: at most MAX_ACTIVE_SERIES unsettled series (the NAV loop) and
///   MAX_POSITIONS_PER_ACCOUNT positions per account (the leg's valuation loop).
contract OptionMarket is AccessControlDefaultAdminRules, ReentrancyGuardTransient, IOptionMarket {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;
    using Math for uint256;

    bytes32 public constant GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE");

    uint256 private constant WAD = 1e18;
    uint256 private constant BPS = 10_000;

    uint256 public constant MAX_IV_SPREAD_WAD = 0.2e18;
    uint256 public constant MIN_VOL_LOWER_WAD = 0.01e18;
    uint256 public constant MIN_VOL_UPPER_WAD = 1e18;
    uint256 public constant MAX_TRADING_FEE_BPS = 500;
    uint256 public constant MIN_SETTLEMENT_WINDOW = 5 minutes;
    uint256 public constant MAX_SETTLEMENT_WINDOW = 1 days;
    uint256 public constant GOVERNANCE_SETTLE_DELAY = 1 days;
    uint256 public constant MIN_TENOR = 1 hours;
    uint256 public constant MAX_TENOR = 365 days;
    uint256 public constant MIN_PRICE_WAD = BlackScholes.MIN_PRICE_WAD;
    uint256 public constant MAX_PRICE_WAD = BlackScholes.MAX_PRICE_WAD;
    uint256 public constant MAX_TRADE_SIZE_WAD = 1e24;
    uint256 public constant MAX_ACTIVE_SERIES = 32;
    uint256 public constant MAX_POSITIONS_PER_ACCOUNT = 32;
    uint256 public constant VIRTUAL_SHARES = 1e6;

    struct SeriesData {
        uint128 strikeWad;
        uint128 capWad;
        uint128 longOpenWad;
        uint128 shortOpenWad;
        uint128 heldUsdc;
        uint128 settlementPriceWad;
        uint40 expiry;
        bool isCall;
        SettlementSource source;
        uint80 roundId;
    }

    struct Position {
        int128 sizeWad;
        uint64 indexPlusOne; // in _accountSeries[account]
    }

    IERC20 private immutable _asset;
    IOptionPricer private immutable _pricer;
    IOptionOracle private immutable _oracle;
    /// @dev 10^(36 − assetDecimals): wad price × wad size / _scale = asset units (1e30 for USDC).
    uint256 private immutable _scale;

    // One slot of parameters.
    uint64 private _ivSpreadWad;
    uint64 private _minVolWad;
    uint16 private _tradingFeeBps;
    uint32 private _settlementWindowSec;

    uint128 private _poolFree;
    uint128 private _poolLocked;
    uint256 private _held;
    uint256 private _totalShares;
    mapping(address => uint256) private _shares;

    SeriesData[] private _series;
    mapping(bytes32 key => uint256 idPlusOne) private _seriesByKey;
    uint256[] private _active;
    mapping(uint256 seriesId => uint256 indexPlusOne) private _activeIndex;

    mapping(address account => mapping(uint256 seriesId => Position)) private _positions;
    mapping(address account => uint256[]) private _accountSeries;

    /// @param asset_ The settlement asset (USDC, 6 decimals; any ≤ 18 works).
    /// @param pricer_ The stateless Black-76 pricer (OptionPricer).
    /// @param oracle_ The oracle adapter (OptionOracle): spot, IV, settlement prices.
    /// @param admin Default admin (role management); transfers are two-step with `adminDelay`.
    constructor(
        IERC20 asset_,
        IOptionPricer pricer_,
        IOptionOracle oracle_,
        address admin,
        uint48 adminDelay,
        address governance,
        MarketParams memory params
    ) AccessControlDefaultAdminRules(adminDelay, admin) {
        if (address(asset_) == address(0)) revert ZeroAddress("asset");
        if (address(pricer_) == address(0)) revert ZeroAddress("pricer");
        if (address(oracle_) == address(0)) revert ZeroAddress("oracle");
        if (governance == address(0)) revert ZeroAddress("governance");
        uint8 decimals = IERC20Metadata(address(asset_)).decimals();
        if (decimals > 18) revert UnsupportedAssetDecimals(decimals);
        _asset = asset_;
        _pricer = pricer_;
        _oracle = oracle_;
        _scale = 10 ** (36 - uint256(decimals));
        _grantRole(GOVERNANCE_ROLE, governance);
        _setIvSpread(params.ivSpreadWad);
        _setMinVol(params.minVolWad);
        _setTradingFee(params.tradingFeeBps);
        _setSettlementWindow(params.settlementWindowSec);
    }

    // =================================================================== trading

    /// @inheritdoc IOptionMarket
    function buy(uint256 seriesId, uint256 sizeWad, uint256 maxCostUsdc, uint256 deadline)
        external
        nonReentrant
        returns (uint256 premiumUsdc, uint256 feeUsdc)
    {
        SeriesData storage s = _tradable(seriesId, sizeWad, deadline);
        uint256 spot;
        uint256 vol;
        (premiumUsdc, feeUsdc, spot, vol) = _priceTrade(s, sizeWad, true);
        uint256 cost = premiumUsdc + feeUsdc;
        if (cost > maxCostUsdc) revert PremiumAboveMax(cost, maxCostUsdc);
        (uint256 released, int256 newSize) = _applyBuy(seriesId, s, sizeWad, cost);
        emit Traded(msg.sender, seriesId, true, sizeWad, premiumUsdc, feeUsdc, -int256(released), newSize, spot, vol);
        if (cost > released) _asset.safeTransferFrom(msg.sender, address(this), cost - released);
        else if (released > cost) _asset.safeTransfer(msg.sender, released - cost);
    }

    /// @inheritdoc IOptionMarket
    function sell(uint256 seriesId, uint256 sizeWad, uint256 minProceedsUsdc, uint256 deadline)
        external
        nonReentrant
        returns (uint256 premiumUsdc, uint256 feeUsdc)
    {
        SeriesData storage s = _tradable(seriesId, sizeWad, deadline);
        uint256 spot;
        uint256 vol;
        (premiumUsdc, feeUsdc, spot, vol) = _priceTrade(s, sizeWad, false);
        uint256 proceeds = premiumUsdc - feeUsdc;
        if (proceeds < minProceedsUsdc) revert PremiumBelowMin(proceeds, minProceedsUsdc);
        (uint256 posted, int256 newSize) = _applySell(seriesId, s, sizeWad, proceeds);
        emit Traded(msg.sender, seriesId, false, sizeWad, premiumUsdc, feeUsdc, int256(posted), newSize, spot, vol);
        if (posted > proceeds) _asset.safeTransferFrom(msg.sender, address(this), posted - proceeds);
        else if (proceeds > posted) _asset.safeTransfer(msg.sender, proceeds - posted);
    }

    // =================================================================== settlement

    /// @inheritdoc IOptionMarket
    function settle(uint256 seriesId, uint80 roundIdHint)
        external
        nonReentrant
        returns (uint256 settlementPriceWad)
    {
        SeriesData storage s = _get(seriesId);
        if (s.source != SettlementSource.None) revert AlreadySettled(seriesId, s.settlementPriceWad);
        uint256 expiry = s.expiry;
        if (block.timestamp < expiry) revert NotExpired(seriesId, expiry, block.timestamp);
        (uint256 priceWad, SettlementSource source, uint80 roundId) =
            _oracle.settlementPrice(expiry, _settlementWindowSec, roundIdHint);
        _settle(seriesId, s, priceWad, source, roundId);
        return priceWad;
    }

    /// @inheritdoc IOptionMarket
    function settleByGovernance(uint256 seriesId, uint256 settlementPriceWad)
        external
        nonReentrant
        onlyRole(GOVERNANCE_ROLE)
    {
        SeriesData storage s = _get(seriesId);
        if (s.source != SettlementSource.None) revert AlreadySettled(seriesId, s.settlementPriceWad);
        uint256 opensAt = uint256(s.expiry) + _settlementWindowSec + GOVERNANCE_SETTLE_DELAY;
        if (block.timestamp < opensAt) revert GovernanceSettlementTooEarly(opensAt, block.timestamp);
        if (settlementPriceWad < MIN_PRICE_WAD || settlementPriceWad > MAX_PRICE_WAD) {
            revert SettlementPriceOutOfRange(settlementPriceWad, MIN_PRICE_WAD, MAX_PRICE_WAD);
        }
        _settle(seriesId, s, settlementPriceWad, SettlementSource.Governance, 0);
    }

    /// @inheritdoc IOptionMarket
    function claim(uint256 seriesId) external nonReentrant returns (uint256 paidUsdc) {
        SeriesData storage s = _get(seriesId);
        if (s.source == SettlementSource.None) revert NotSettled(seriesId);
        Position storage pos = _positions[msg.sender][seriesId];
        int256 x = pos.sizeWad;
        if (x == 0) revert NothingToClaim(msg.sender, seriesId);
        paidUsdc = _claimable(s, x);
        s.heldUsdc -= uint128(paidUsdc);
        _held -= paidUsdc;
        _setPosition(msg.sender, seriesId, pos, x, 0);
        emit Claimed(msg.sender, seriesId, x, paidUsdc);
        if (paidUsdc != 0) _asset.safeTransfer(msg.sender, paidUsdc);
    }

    // =================================================================== LP pool

    /// @inheritdoc IOptionMarket
    function depositLiquidity(uint256 assetsUsdc, uint256 minShares) external nonReentrant returns (uint256 shares) {
        if (assetsUsdc == 0) revert ZeroAmount("assets");
        uint256 navHigh;
        if (_hasOpenInterest()) {
            (uint256 spot, uint256 iv) = _oracle.read();
            (, navHigh) = _nav(spot, iv, true);
        } else {
            navHigh = uint256(_poolFree) + _poolLocked;
        }
        shares = assetsUsdc.mulDiv(_totalShares + VIRTUAL_SHARES, navHigh + 1);
        if (shares == 0) revert ZeroSharesOrAssets(assetsUsdc, 0);
        if (shares < minShares) revert SharesBelowMin(shares, minShares);
        _poolFree += assetsUsdc.toUint128();
        _totalShares += shares;
        _shares[msg.sender] += shares;
        emit LiquidityDeposited(msg.sender, assetsUsdc, shares);
        _asset.safeTransferFrom(msg.sender, address(this), assetsUsdc);
    }

    /// @inheritdoc IOptionMarket
    function withdrawLiquidity(uint256 shares, uint256 minAssetsUsdc)
        external
        nonReentrant
        returns (uint256 assetsUsdc)
    {
        if (shares == 0) revert ZeroAmount("shares");
        uint256 balance = _shares[msg.sender];
        if (shares > balance) revert InsufficientShares(msg.sender, shares, balance);
        (uint256 navLow,, bool priced) = poolNav();
        assetsUsdc = shares.mulDiv(navLow + 1, _totalShares + VIRTUAL_SHARES);
        if (assetsUsdc == 0) revert ZeroSharesOrAssets(0, shares);
        uint256 free = _poolFree;
        if (assetsUsdc > free) revert PoolInsufficientLiquidity(assetsUsdc, free);
        if (assetsUsdc < minAssetsUsdc) revert AssetsBelowMin(assetsUsdc, minAssetsUsdc);
        _poolFree = uint128(free - assetsUsdc);
        _totalShares -= shares;
        _shares[msg.sender] = balance - shares;
        emit LiquidityWithdrawn(msg.sender, shares, assetsUsdc, priced);
        _asset.safeTransfer(msg.sender, assetsUsdc);
    }

    // =================================================================== governance

    /// @inheritdoc IOptionMarket
    function listSeries(bool isCall, uint256 strikeWad, uint256 capWad, uint256 expiry)
        external
        nonReentrant
        onlyRole(GOVERNANCE_ROLE)
        returns (uint256 seriesId)
    {
        if (isCall ? capWad == 0 : capWad != 0) revert InvalidCap(isCall, capWad);
        if (
            strikeWad < MIN_PRICE_WAD || strikeWad > MAX_PRICE_WAD || capWad > MAX_PRICE_WAD
                || strikeWad + capWad > MAX_PRICE_WAD
        ) {
            revert StrikeOutOfRange(strikeWad, capWad, MIN_PRICE_WAD, MAX_PRICE_WAD);
        }
        uint256 earliest = block.timestamp + MIN_TENOR;
        uint256 latest = block.timestamp + MAX_TENOR;
        if (expiry < earliest || expiry > latest) revert ExpiryOutOfRange(expiry, earliest, latest);
        bytes32 key = keccak256(abi.encode(isCall, strikeWad, capWad, expiry));
        uint256 existing = _seriesByKey[key];
        if (existing != 0) revert SeriesAlreadyListed(existing - 1);
        uint256 active = _active.length;
        if (active >= MAX_ACTIVE_SERIES) revert TooManyActiveSeries(active, MAX_ACTIVE_SERIES);

        seriesId = _series.length;
        _series.push(
            SeriesData({
                strikeWad: uint128(strikeWad),
                capWad: uint128(capWad),
                longOpenWad: 0,
                shortOpenWad: 0,
                heldUsdc: 0,
                settlementPriceWad: 0,
                expiry: uint40(expiry),
                isCall: isCall,
                source: SettlementSource.None,
                roundId: 0
            })
        );
        _seriesByKey[key] = seriesId + 1;
        _active.push(seriesId);
        _activeIndex[seriesId] = active + 1;
        emit SeriesListed(seriesId, isCall, strikeWad, capWad, expiry);
    }

    /// @inheritdoc IOptionMarket
    function setIvSpread(uint256 spreadWad) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        _setIvSpread(spreadWad);
    }

    /// @inheritdoc IOptionMarket
    function setMinVol(uint256 minVolWad_) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        _setMinVol(minVolWad_);
    }

    /// @inheritdoc IOptionMarket
    function setTradingFee(uint256 feeBps) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        _setTradingFee(feeBps);
    }

    /// @inheritdoc IOptionMarket
    function setSettlementWindow(uint256 windowSec) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        _setSettlementWindow(windowSec);
    }

    // =================================================================== views

    function asset() external view returns (address) {
        return address(_asset);
    }

    function pricer() external view returns (address) {
        return address(_pricer);
    }

    function oracle() external view returns (address) {
        return address(_oracle);
    }

    function ivSpreadWad() external view returns (uint256) {
        return _ivSpreadWad;
    }

    function minVolWad() external view returns (uint256) {
        return _minVolWad;
    }

    function tradingFeeBps() external view returns (uint256) {
        return _tradingFeeBps;
    }

    function settlementWindowSec() external view returns (uint256) {
        return _settlementWindowSec;
    }

    function seriesCount() external view returns (uint256) {
        return _series.length;
    }

    /// @inheritdoc IOptionMarket
    function series(uint256 seriesId) external view returns (SeriesInfo memory info) {
        SeriesData memory s = _get(seriesId);
        uint256 maxPayout = _maxPayout(s);
        info = SeriesInfo({
            isCall: s.isCall,
            strikeWad: s.strikeWad,
            capWad: s.capWad,
            maxPayoutWad: maxPayout,
            expiry: s.expiry,
            longOpenWad: s.longOpenWad,
            shortOpenWad: s.shortOpenWad,
            poolLockedUsdc: s.source == SettlementSource.None ? _collateral(maxPayout, s.longOpenWad) : 0,
            heldUsdc: s.heldUsdc,
            settlementSource: s.source,
            settlementRoundId: s.roundId,
            settlementPriceWad: s.settlementPriceWad,
            payoutWad: s.source == SettlementSource.None ? 0 : _payout(s, s.settlementPriceWad)
        });
    }

    function activeSeries() external view returns (uint256[] memory) {
        return _active;
    }

    function accountSeries(address account) external view returns (uint256[] memory) {
        return _accountSeries[account];
    }

    /// @inheritdoc IOptionMarket
    function position(address account, uint256 seriesId)
        external
        view
        returns (int256 sizeWad, uint256 collateralUsdc)
    {
        SeriesData memory s = _get(seriesId);
        sizeWad = _positions[account][seriesId].sizeWad;
        if (s.source == SettlementSource.None) collateralUsdc = _collateralOf(_maxPayout(s), sizeWad);
    }

    /// @inheritdoc IOptionMarket
    function quote(uint256 seriesId, bool isBuy, uint256 sizeWad)
        external
        view
        returns (uint256 premiumUsdc, uint256 feeUsdc)
    {
        SeriesData memory s = _tradable(seriesId, sizeWad, block.timestamp);
        (uint256 spot, uint256 iv) = _oracle.peek();
        (uint256 volAsk, uint256 volBid) = _vols(iv);
        uint256 tau = s.expiry - block.timestamp;
        premiumUsdc = isBuy
            ? (_askWad(s, spot, tau, volAsk, volBid) * sizeWad).ceilDiv(_scale)
            : _bidWad(s, spot, tau, volAsk, volBid) * sizeWad / _scale;
        feeUsdc = _fee(premiumUsdc);
    }

    /// @inheritdoc IOptionMarket
    function markPriceWad(uint256 seriesId) external view returns (uint256 priceWad) {
        (priceWad,,) = markGreeks(seriesId);
    }

    /// @inheritdoc IOptionMarket
    function markBoundsWad(uint256 seriesId) external view returns (uint256 lowWad, uint256 highWad) {
        SeriesData memory s = _get(seriesId);
        if (s.source != SettlementSource.None) {
            lowWad = highWad = _payout(s, s.settlementPriceWad);
        } else {
            (uint256 spot, uint256 iv) = _oracle.peek();
            (lowWad, highWad) = _markBounds(s, spot, iv);
        }
    }

    /// @inheritdoc IOptionMarket
    function markGreeks(uint256 seriesId) public view returns (uint256 priceWad, int256 deltaWad, int256 vegaWad) {
        SeriesData memory s = _get(seriesId);
        if (s.source != SettlementSource.None) return (_payout(s, s.settlementPriceWad), 0, 0);
        (uint256 spot, uint256 iv) = _oracle.peek();
        return _greeks(s, spot, iv);
    }

    /// @inheritdoc IOptionMarket
    function collateralRequiredUsdc(uint256 seriesId, uint256 sizeWad) external view returns (uint256) {
        return _collateral(_maxPayout(_get(seriesId)), sizeWad);
    }

    /// @inheritdoc IOptionMarket
    function positionValue(address account, uint256 seriesId)
        external
        view
        returns (PositionValue memory pv, bool priced)
    {
        SeriesData memory s = _get(seriesId);
        uint256 spot;
        uint256 iv;
        (spot, iv, priced) = _tryValues();
        pv = _positionValue(s, _positions[account][seriesId].sizeWad, spot, iv);
    }

    /// @inheritdoc IOptionMarket
    function accountValue(address account) external view returns (AccountValue memory v) {
        uint256[] storage ids = _accountSeries[account];
        uint256 n = ids.length;
        // Nothing to price: exact whatever the feeds say.
        if (n == 0) return AccountValue(0, 0, 0, true);
        (uint256 spot, uint256 iv, bool priced) = _tryValues();
        v.priced = priced;
        for (uint256 i; i < n; ++i) {
            uint256 id = ids[i];
            PositionValue memory pv = _positionValue(_valuationData(id), _positions[account][id].sizeWad, spot, iv);
            v.assetsUsdc += pv.longValueUsdc + pv.collateralUsdc + pv.claimableUsdc;
            v.liabilitiesUsdc += pv.shortLiabilityUsdc;
            v.deltaWad += pv.deltaWad;
        }
    }

    function poolFreeUsdc() external view returns (uint256) {
        return _poolFree;
    }

    function poolLockedUsdc() external view returns (uint256) {
        return _poolLocked;
    }

    function heldForAccountsUsdc() external view returns (uint256) {
        return _held;
    }

    function totalPoolShares() external view returns (uint256) {
        return _totalShares;
    }

    function poolSharesOf(address account) external view returns (uint256) {
        return _shares[account];
    }

    /// @inheritdoc IOptionMarket
    function poolNav() public view returns (uint256 navLowUsdc, uint256 navHighUsdc, bool priced) {
        if (!_hasOpenInterest()) {
            navLowUsdc = navHighUsdc = uint256(_poolFree) + _poolLocked;
            return (navLowUsdc, navHighUsdc, true);
        }
        (uint256 spot, uint256 iv, bool live) = _tryValues();
        priced = live && _inDomain(spot, iv);
        (navLowUsdc, navHighUsdc) = _nav(spot, iv, priced);
    }

    // =================================================================== internals: trading

    /// @dev The series, checked tradable with `sizeWad` before `deadline`.
    function _tradable(uint256 seriesId, uint256 sizeWad, uint256 deadline)
        private
        view
        returns (SeriesData storage s)
    {
        if (block.timestamp > deadline) revert DeadlinePassed(deadline, block.timestamp);
        if (sizeWad == 0) revert ZeroAmount("size");
        if (sizeWad > MAX_TRADE_SIZE_WAD) revert TradeTooLarge(sizeWad, MAX_TRADE_SIZE_WAD);
        s = _get(seriesId);
        if (block.timestamp >= s.expiry) revert SeriesExpired(seriesId, s.expiry, block.timestamp);
    }

    /// @dev Reads both feeds (reverting on a failed check) and prices a trade: premium (buy: ask rounded
    ///      up, sell: bid rounded down), fee, the spot used and the volatility of the first leg.
    function _priceTrade(SeriesData storage s, uint256 sizeWad, bool isBuy)
        private
        returns (uint256 premiumUsdc, uint256 feeUsdc, uint256 spot, uint256 vol)
    {
        SeriesData memory sm = s;
        uint256 iv;
        (spot, iv) = _oracle.read();
        (uint256 volAsk, uint256 volBid) = _vols(iv);
        uint256 tau = sm.expiry - block.timestamp;
        if (isBuy) {
            premiumUsdc = (_askWad(sm, spot, tau, volAsk, volBid) * sizeWad).ceilDiv(_scale);
            vol = volAsk;
        } else {
            premiumUsdc = _bidWad(sm, spot, tau, volAsk, volBid) * sizeWad / _scale;
            vol = volBid;
        }
        feeUsdc = _fee(premiumUsdc);
    }

    /// @dev A buy's effects: reduce the caller's short (release collateral down to what the rest needs),
    ///      open a long with the remainder; the pool receives `cost` and locks ⌈maxPayout·L⌉ for its short.
    function _applyBuy(uint256 seriesId, SeriesData storage s, uint256 sizeWad, uint256 cost)
        private
        returns (uint256 released, int256 x2)
    {
        SeriesData memory sm = s;
        Position storage pos = _positions[msg.sender][seriesId];
        int256 x = pos.sizeWad;
        uint256 close = x < 0 ? Math.min(sizeWad, uint256(-x)) : 0;
        x2 = x + int256(sizeWad);
        uint256 maxPayout = _maxPayout(sm);
        released = _collateralOf(maxPayout, x) - _collateralOf(maxPayout, x2);
        uint256 longOpen = sm.longOpenWad + (sizeWad - close);
        uint256 lockDelta = _collateral(maxPayout, longOpen) - _collateral(maxPayout, sm.longOpenWad);
        uint256 free = _poolFree + cost;
        if (lockDelta > free) revert PoolCannotWrite(seriesId, lockDelta, free);

        _poolFree = (free - lockDelta).toUint128();
        _poolLocked += lockDelta.toUint128();
        s.longOpenWad = longOpen.toUint128();
        s.shortOpenWad = uint128(sm.shortOpenWad - close);
        s.heldUsdc = uint128(sm.heldUsdc - released);
        _held -= released;
        _setPosition(msg.sender, seriesId, pos, x, x2);
    }

    /// @dev A sell's effects: reduce the caller's long (unlocking the pool's collateral), open a short
    ///      with the remainder (the caller posts ⌈maxPayout·size⌉); the pool pays `proceeds`.
    function _applySell(uint256 seriesId, SeriesData storage s, uint256 sizeWad, uint256 proceeds)
        private
        returns (uint256 posted, int256 x2)
    {
        SeriesData memory sm = s;
        Position storage pos = _positions[msg.sender][seriesId];
        int256 x = pos.sizeWad;
        uint256 close = x > 0 ? Math.min(sizeWad, uint256(x)) : 0;
        x2 = x - int256(sizeWad);
        uint256 maxPayout = _maxPayout(sm);
        posted = _collateralOf(maxPayout, x2) - _collateralOf(maxPayout, x);
        uint256 longOpen = sm.longOpenWad - close;
        uint256 unlock = _collateral(maxPayout, sm.longOpenWad) - _collateral(maxPayout, longOpen);
        uint256 free = _poolFree + unlock;
        if (proceeds > free) revert PoolInsufficientLiquidity(proceeds, free);

        _poolFree = uint128(free - proceeds);
        _poolLocked -= uint128(unlock);
        s.longOpenWad = uint128(longOpen);
        s.shortOpenWad = (sm.shortOpenWad + (sizeWad - close)).toUint128();
        s.heldUsdc = (sm.heldUsdc + posted).toUint128();
        _held += posted;
        _setPosition(msg.sender, seriesId, pos, x, x2);
    }

    /// @dev Updates a position from `x` to `x2` (signed sizes) and the account's series list.
    function _setPosition(address account, uint256 seriesId, Position storage pos, int256 x, int256 x2) private {
        if (x2 == 0) {
            uint256[] storage ids = _accountSeries[account];
            uint256 idx = pos.indexPlusOne - 1;
            uint256 last = ids[ids.length - 1];
            if (last != seriesId) {
                ids[idx] = last;
                _positions[account][last].indexPlusOne = uint64(idx + 1);
            }
            ids.pop();
            delete _positions[account][seriesId];
            return;
        }
        if (x == 0) {
            uint256[] storage ids = _accountSeries[account];
            uint256 n = ids.length;
            if (n >= MAX_POSITIONS_PER_ACCOUNT) revert TooManyPositions(account, n, MAX_POSITIONS_PER_ACCOUNT);
            ids.push(seriesId);
            pos.indexPlusOne = uint64(n + 1);
        }
        pos.sizeWad = x2.toInt128();
    }

    function _fee(uint256 premiumUsdc) private view returns (uint256) {
        return (premiumUsdc * _tradingFeeBps).ceilDiv(BPS);
    }

    /// @dev Ask and bid volatilities: iv + spread, and min(iv, max(iv − spread, minVol)).
    function _vols(uint256 iv) private view returns (uint256 volAsk, uint256 volBid) {
        uint256 spread = _ivSpreadWad;
        volAsk = iv + spread;
        volBid = iv > spread ? iv - spread : 0;
        uint256 floorVol = _minVolWad;
        if (volBid < floorVol) volBid = floorVol;
        if (volBid > iv) volBid = iv;
    }

    // =================================================================== internals: pricing

    function _askWad(SeriesData memory s, uint256 spot, uint256 tau, uint256 volAsk, uint256 volBid)
        private
        view
        returns (uint256)
    {
        return _pricer.askWad(s.isCall, spot, s.strikeWad, s.capWad, tau, volAsk, volBid);
    }

    function _bidWad(SeriesData memory s, uint256 spot, uint256 tau, uint256 volAsk, uint256 volBid)
        private
        view
        returns (uint256)
    {
        return _pricer.bidWad(s.isCall, spot, s.strikeWad, s.capWad, tau, volAsk, volBid);
    }

    /// @dev (bid, ask) at iv on both legs: bounds of the exact price at iv (intrinsic after expiry).
    function _markBounds(SeriesData memory s, uint256 spot, uint256 iv)
        private
        view
        returns (uint256 lowWad, uint256 highWad)
    {
        return _pricer.boundsWad(s.isCall, spot, s.strikeWad, s.capWad, _tau(s.expiry), iv);
    }

    /// @dev Nearest price, delta and vega at iv; zero Greeks at or after expiry.
    function _greeks(SeriesData memory s, uint256 spot, uint256 iv)
        private
        view
        returns (uint256 priceWad, int256 deltaWad, int256 vegaWad)
    {
        uint256 tau = _tau(s.expiry);
        (priceWad, deltaWad, vegaWad) = _pricer.greeks(s.isCall, spot, s.strikeWad, s.capWad, tau, iv);
        if (tau == 0) (deltaWad, vegaWad) = (0, 0);
    }

    function _positionValue(SeriesData memory s, int256 x, uint256 spot, uint256 iv)
        private
        view
        returns (PositionValue memory pv)
    {
        pv.sizeWad = x;
        if (x == 0) return pv;
        if (s.source != SettlementSource.None) {
            pv.claimableUsdc = _claimable(s, x);
            return pv;
        }
        // Unpriced (feeds outside the model's domain): longs at 0, shorts at the maximum payout, no delta.
        uint256 maxPayout = _maxPayout(s);
        uint256 low = 0;
        uint256 high = maxPayout;
        int256 d = 0;
        if (_inDomain(spot, iv)) {
            uint256 tau = _tau(s.expiry);
            (low, high, d) = _pricer.markWad(s.isCall, spot, s.strikeWad, s.capWad, tau, iv);
            if (tau == 0) d = 0;
        }
        uint256 size = x > 0 ? uint256(x) : uint256(-x);
        if (x > 0) {
            pv.longValueUsdc = low * size / _scale;
        } else {
            pv.collateralUsdc = _collateral(maxPayout, size);
            pv.shortLiabilityUsdc = (high * size).ceilDiv(_scale);
        }
        pv.deltaWad = x * d / int256(WAD);
    }

    /// @dev Pool NAV bounds; with `priced` false the worst (longs 0, shorts at max payout) and best cases.
    function _nav(uint256 spot, uint256 iv, bool priced) private view returns (uint256 low, uint256 high) {
        uint256 base = uint256(_poolFree) + _poolLocked;
        // [assets at low marks, assets at high marks, liabilities at high marks, liabilities at low marks]
        uint256[4] memory acc = [base, base, uint256(0), uint256(0)];
        uint256 n = _active.length;
        for (uint256 i; i < n; ++i) {
            _navTerms(_series[_active[i]], spot, iv, priced, acc);
        }
        low = acc[0] > acc[2] ? acc[0] - acc[2] : 0;
        high = acc[1] > acc[3] ? acc[1] - acc[3] : 0;
    }

    /// @dev Adds one series' pool position (long S_open, short L_open) to the NAV accumulators.
    function _navTerms(SeriesData memory s, uint256 spot, uint256 iv, bool priced, uint256[4] memory acc)
        private
        view
    {
        uint256 l = s.longOpenWad;
        uint256 sh = s.shortOpenWad;
        if (l == 0 && sh == 0) return;
        uint256 markLow = 0;
        uint256 markHigh = _maxPayout(s);
        if (priced) (markLow, markHigh) = _markBounds(s, spot, iv);
        acc[0] += sh * markLow / _scale;
        acc[1] += (sh * markHigh).ceilDiv(_scale);
        acc[2] += (l * markHigh).ceilDiv(_scale);
        acc[3] += l * markLow / _scale;
    }

    function _hasOpenInterest() private view returns (bool) {
        uint256 n = _active.length;
        for (uint256 i; i < n; ++i) {
            SeriesData storage s = _series[_active[i]];
            if (s.longOpenWad != 0 || s.shortOpenWad != 0) return true;
        }
        return false;
    }

    // =================================================================== internals: settlement

    function _settle(uint256 seriesId, SeriesData storage s, uint256 priceWad, SettlementSource source, uint80 roundId)
        private
    {
        SeriesData memory sm = s;
        uint256 p = _payout(sm, priceWad);
        uint256 locked = _collateral(_maxPayout(sm), sm.longOpenWad);
        uint256 longReserve = (p * sm.longOpenWad).ceilDiv(_scale);
        uint256 fromShorts = p * sm.shortOpenWad / _scale;
        // locked ≥ ⌈p·L⌉ (p ≤ maxPayout) and heldUsdc ≥ Σ ⌈maxPayout·size_j⌉ ≥ ⌊p·S⌋: no underflow.
        uint256 credit = locked + fromShorts - longReserve;
        uint256 held = uint256(sm.heldUsdc) + longReserve - fromShorts;

        _poolLocked -= uint128(locked);
        _poolFree += credit.toUint128();
        _held = _held - sm.heldUsdc + held;
        s.heldUsdc = held.toUint128();
        s.settlementPriceWad = priceWad.toUint128();
        s.source = source;
        s.roundId = roundId;
        _removeActive(seriesId);
        emit Settled(seriesId, source, roundId, priceWad, p, int256(credit) - int256(locked));
    }

    function _removeActive(uint256 seriesId) private {
        uint256 idx = _activeIndex[seriesId] - 1;
        uint256 last = _active[_active.length - 1];
        if (last != seriesId) {
            _active[idx] = last;
            _activeIndex[last] = idx + 1;
        }
        _active.pop();
        delete _activeIndex[seriesId];
    }

    /// @dev The oracle's non-reverting values; a feed that reverts counts as a failed check with no
    ///      last good value (the worst case), so valuations and LP withdrawals never depend on it.
    function _tryValues() private view returns (uint256 spot, uint256 iv, bool live) {
        try _oracle.values() returns (uint256 s, uint256 v, bool ok) {
            (spot, iv, live) = (s, v, ok);
        } catch {}
    }

    /// @dev Inputs BlackScholes accepts at iv (strikes are checked at listing, tau at listing/expiry).
    function _inDomain(uint256 spot, uint256 iv) private pure returns (bool) {
        return spot >= MIN_PRICE_WAD && spot <= MAX_PRICE_WAD && iv <= BlackScholes.MAX_SIGMA_WAD;
    }

    // =================================================================== internals: parameters

    function _setIvSpread(uint256 spreadWad) private {
        if (spreadWad > MAX_IV_SPREAD_WAD) revert IvSpreadTooHigh(spreadWad, MAX_IV_SPREAD_WAD);
        emit IvSpreadSet(_ivSpreadWad, spreadWad);
        _ivSpreadWad = uint64(spreadWad);
    }

    function _setMinVol(uint256 minVolWad_) private {
        if (minVolWad_ < MIN_VOL_LOWER_WAD || minVolWad_ > MIN_VOL_UPPER_WAD) {
            revert MinVolOutOfRange(minVolWad_, MIN_VOL_LOWER_WAD, MIN_VOL_UPPER_WAD);
        }
        emit MinVolSet(_minVolWad, minVolWad_);
        _minVolWad = uint64(minVolWad_);
    }

    function _setTradingFee(uint256 feeBps) private {
        if (feeBps > MAX_TRADING_FEE_BPS) revert TradingFeeTooHigh(feeBps, MAX_TRADING_FEE_BPS);
        emit TradingFeeSet(_tradingFeeBps, feeBps);
        _tradingFeeBps = uint16(feeBps);
    }

    function _setSettlementWindow(uint256 windowSec) private {
        if (windowSec < MIN_SETTLEMENT_WINDOW || windowSec > MAX_SETTLEMENT_WINDOW) {
            revert SettlementWindowOutOfRange(windowSec, MIN_SETTLEMENT_WINDOW, MAX_SETTLEMENT_WINDOW);
        }
        emit SettlementWindowSet(_settlementWindowSec, windowSec);
        _settlementWindowSec = uint32(windowSec);
    }

    // =================================================================== internals: series math

    function _get(uint256 seriesId) private view returns (SeriesData storage) {
        uint256 n = _series.length;
        if (seriesId >= n) revert UnknownSeries(seriesId, n);
        return _series[seriesId];
    }

    /// @dev The fields `_positionValue` reads: strike, cap, expiry, type and source, plus the settlement
    ///      price once settled. Skips the open-interest and held-collateral slots of a live series.
    function _valuationData(uint256 seriesId) private view returns (SeriesData memory s) {
        SeriesData storage st = _series[seriesId];
        (s.strikeWad, s.capWad) = (st.strikeWad, st.capWad);
        (s.expiry, s.isCall, s.source) = (st.expiry, st.isCall, st.source);
        if (s.source != SettlementSource.None) s.settlementPriceWad = st.settlementPriceWad;
    }

    function _tau(uint256 expiry) private view returns (uint256) {
        return expiry > block.timestamp ? expiry - block.timestamp : 0;
    }

    /// @dev C for calls, K for puts.
    function _maxPayout(SeriesData memory s) private pure returns (uint256) {
        return s.isCall ? s.capWad : s.strikeWad;
    }

    /// @dev min(max(S − K, 0), C) for calls, max(K − S, 0) for puts.
    function _payout(SeriesData memory s, uint256 priceWad) private pure returns (uint256) {
        uint256 k = s.strikeWad;
        if (!s.isCall) return k > priceWad ? k - priceWad : 0;
        uint256 p = priceWad > k ? priceWad - k : 0;
        return p > s.capWad ? s.capWad : p;
    }

    /// @dev ⌈maxPayout · size / scale⌉.
    function _collateral(uint256 maxPayoutWad, uint256 sizeWad) private view returns (uint256) {
        return (maxPayoutWad * sizeWad).ceilDiv(_scale);
    }

    /// @dev The collateral of a signed position (0 for longs).
    function _collateralOf(uint256 maxPayoutWad, int256 x) private view returns (uint256) {
        return x < 0 ? _collateral(maxPayoutWad, uint256(-x)) : 0;
    }

    /// @dev What `claim` pays for a settled position of signed size `x`.
    function _claimable(SeriesData memory s, int256 x) private view returns (uint256) {
        uint256 p = _payout(s, s.settlementPriceWad);
        if (x > 0) return p * uint256(x) / _scale;
        uint256 size = uint256(-x);
        return _collateral(_maxPayout(s), size) - (p * size).ceilDiv(_scale);
    }
}
