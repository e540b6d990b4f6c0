// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IOptionOracleTypes} from "./IOptionOracle.sol";

/// @title IOptionMarket
/// @notice A local reference venue for European, cash-settled ETH calls and puts on listed strikes and
///         expiries. Every trade is against one LP pool; prices come from Black-76 on chain (spot from
///         the ETH/USD feed, volatility from the ETH implied-volatility feed plus/minus a governed
///         spread). Shorts are fully collateralised in the asset (USDC); series settle from the spot
///         feed at expiry and positions are then claimed once.
/// @dev UNITS. `*Usdc`: the asset's smallest unit (1e6 = 1 USDC). `*Wad`: 18-decimal fixed point —
///      sizes in ETH (1e18 = one option on 1 ETH), prices and payouts in USD per ETH, volatilities as a
///      fraction per year (0.7e18 = 70 %), deltas in ETH per option. `*Sec`: seconds, timestamps unix
///      seconds. `*Bps`: basis points (1e-4). A wad amount of USD becomes asset units as
///      `wadUsd · sizeWad / 10^(36 − assetDecimals)` (1e30 for USDC), rounded as stated per function.
///
///      MODEL. Black-76 with the forward F = the oracle spot, r = 0 (discount factor 1e18) and
///      tau = expiry − now in seconds on a 365-day year. Volatility is one flat number for every
///      strike (the 30-day ATM IV feed): no smile, no term structure.
///      - Put on strike K: payout max(K − S, 0) per ETH, at most K.
///      - Call on strike K with cap C (> 0): payout min(max(S − K, 0), C) per ETH. It is exactly a call
///        spread, long call(K) and short call(K + C), and is priced as one, so the price is exact for
///        what is paid. `maxPayoutWad` = C for a call, K for a put.
///
///      QUOTES (volatilities: iv from the feed, spread = `ivSpreadWad`, floor = `minVolWad`):
///        askVol = iv + spread;   bidVol = min(iv, max(iv − spread, floor))   (so bidVol ≤ iv ≤ askVol)
///        put ask  = black76Up(put, K, askVol)                              bid = black76Down(put, K, bidVol)
///        call ask = min(C, black76Up(call, K, askVol) − black76Down(call, K + C, bidVol))
///        call bid = max(0, black76Down(call, K, bidVol) − black76Up(call, K + C, askVol))
///      Each leg of the call spread is priced at its own side of the market (the buyer of the spread
///      buys call(K) and sells call(K + C)), so ask ≥ exact price at iv ≥ bid for every spot, even where
///      the spread's vega is negative. Up/Down bracket the exact Black-76 value (BlackScholes' error
///      bound), so the ask is never below and the bid never above the exact model price.
///        premium (buy)  = ⌈askWad · size / 1e30⌉      premium (sell) = ⌊bidWad · size / 1e30⌋
///        fee            = ⌈premium · tradingFeeBps / 10 000⌉ (both sides; paid to the pool)
///        a buyer pays premium + fee; a seller receives premium − fee.
///      Mark bounds (`markBoundsWad`) are the same formulas with askVol = bidVol = iv; `markPriceWad`
///      is the nearest-wei price at iv. After expiry (tau = 0) all of them are the intrinsic value.
///
///      COLLATERAL. A short of size q locks ⌈maxPayoutWad · q / 1e30⌉ (rounded up); the pool, short
///      everything users are long (L, the series' `longOpenWad`), locks ⌈maxPayoutWad · L / 1e30⌉ per
///      series. The pool does not net its longs against its shorts (each user short is backed by that
///      user's own collateral), which keeps every settlement solvent to the wei without padding.
///
///      POSITIONS. One signed size per (account, series): long > 0, short < 0. A buy first reduces a
///      short (releasing collateral down to what the remaining short needs) and opens a long with the
///      rest; a sell first reduces a long and opens a short with the rest (posting collateral in the
///      same call). The USDC of a trade moves in one net transfer.
///
///      SETTLEMENT (`settle`, anyone, once now ≥ expiry). The settlement price S comes from
///      IOptionOracle.settlementPrice (the first spot round at or after expiry within
///      `settlementWindowSec`; if the window had no round, the last round before expiry, fresh at
///      expiry); if neither route works (a bad first round, a dead feed), governance may set S once
///      now > expiry + window + GOVERNANCE_SETTLE_DELAY (the feed routes stay open until then).
///      payout per ETH p = min(max(S − K, 0), C) for calls, max(K − S, 0) for puts.
///      At settlement the pool's side is booked at once: the pool is credited
///        poolLocked_s + ⌊p · S_open / 1e30⌋ − ⌈p · L_open / 1e30⌉   (≥ 0, since poolLocked_s ≥ ⌈p·L/1e30⌉)
///      and the series keeps, for the claims, ⌈p · L_open / 1e30⌉ + shortCollateral − ⌊p · S_open / 1e30⌋.
///      `claim` then pays a long ⌊p · size / 1e30⌋ and a short collateral − ⌈p · |size| / 1e30⌉. What
///      the rounding leaves in a series after every claim is the venue's dust (never anybody's money).
///
///      LP POOL. LPs deposit the asset for pool shares (internal, non-transferable balances; 1e6 virtual
///      shares and 1 virtual asset against inflation; donations are not counted). The pool's NAV, with
///      mark bounds at iv for every open series (expired but unsettled ones at intrinsic value):
///        navLow  = free + locked + Σ ⌊S_open · markLow / 1e30⌋  − Σ ⌈L_open · markHigh / 1e30⌉
///        navHigh = free + locked + Σ ⌈S_open · markHigh / 1e30⌉ − Σ ⌊L_open · markLow / 1e30⌋
///      Deposits mint ⌊assets · (shares + 1e6) / (navHigh + 1)⌋; withdrawals pay
///      ⌊shares · (navLow + 1) / (totalShares + 1e6)⌋ (both in the pool's favour), out of the free
///      balance only. If an oracle check fails while the pool has open positions, deposits revert
///      with the oracle error, and withdrawals price the pool at its worst case (longs worth 0, shorts
///      at their full collateral: navLow = free), so LPs can always leave.
///
///      ORACLES. Through the oracle adapter (IOptionOracle; anyone may `poke` it). Trades and LP
///      deposits `read` both feeds; a failed check reverts with OracleLib's error (trading halts).
///      Settlement reads historical rounds and claims read nothing: neither needs a live price.
interface IOptionMarket is IOptionOracleTypes {
    /// @notice One listed series and its state.
    /// @param isCall True for a (capped) call, false for a put.
    /// @param strikeWad Strike K, USD per ETH.
    /// @param capWad Call payout cap C per ETH (0 for puts).
    /// @param maxPayoutWad C for calls, K for puts: the collateral per ETH of a short.
    /// @param expiry Expiry timestamp; trading stops at expiry.
    /// @param longOpenWad L: total size of users' longs (the pool is short L).
    /// @param shortOpenWad S: total size of users' shorts (the pool is long S).
    /// @param poolLockedUsdc The pool's collateral for the series, ⌈maxPayoutWad · L / 1e30⌉ (0 once settled).
    /// @param heldUsdc Before settlement: the users' short collateral; after: what the series keeps for
    ///        its unpaid claims (plus dust).
    /// @param settlementSource None until settled.
    /// @param settlementRoundId The spot round used (0 for governance).
    /// @param settlementPriceWad S, USD per ETH (0 until settled).
    /// @param payoutWad p per ETH (0 until settled).
    struct SeriesInfo {
        bool isCall;
        uint256 strikeWad;
        uint256 capWad;
        uint256 maxPayoutWad;
        uint256 expiry;
        uint256 longOpenWad;
        uint256 shortOpenWad;
        uint256 poolLockedUsdc;
        uint256 heldUsdc;
        SettlementSource settlementSource;
        uint80 settlementRoundId;
        uint256 settlementPriceWad;
        uint256 payoutWad;
    }

    /// @notice One account's position in one series, valued for a holder such as the OptionLeg.
    /// @param sizeWad Signed size (long > 0, short < 0).
    /// @param collateralUsdc The short's locked collateral, ⌈maxPayoutWad · |size| / 1e30⌉ (0 once settled).
    /// @param longValueUsdc A long's mark, ⌊size · markLow / 1e30⌋ (0 for shorts and once settled).
    /// @param shortLiabilityUsdc A short's liability, ⌈|size| · markHigh / 1e30⌉ (≤ collateral).
    /// @param claimableUsdc Once settled: what `claim` pays now.
    /// @param deltaWad size · delta / 1e18 at iv (ETH), rounded toward zero; 0 at or after expiry.
    struct PositionValue {
        int256 sizeWad;
        uint256 collateralUsdc;
        uint256 longValueUsdc;
        uint256 shortLiabilityUsdc;
        uint256 claimableUsdc;
        int256 deltaWad;
    }

    /// @notice Sums of `PositionValue` over an account's series (`accountSeries`). A holder's value is
    ///         assetsUsdc − liabilitiesUsdc (≥ 0: every short liability is covered by its collateral).
    /// @param assetsUsdc Σ longValueUsdc + Σ collateralUsdc + Σ claimableUsdc.
    /// @param liabilitiesUsdc Σ shortLiabilityUsdc.
    /// @param deltaWad Σ deltaWad.
    /// @param priced True if both feeds passed their checks now, or the account holds no series (nothing
    ///        to price: the feeds are not read). If not, marks use the last accepted
    ///        values (IOptionOracle.values); with none (or a feed whose call reverts), longs are worth 0,
    ///        shorts owe their full collateral and deltas are 0. Never reverts for an oracle failure.
    struct AccountValue {
        uint256 assetsUsdc;
        uint256 liabilitiesUsdc;
        int256 deltaWad;
        bool priced;
    }

    /// @notice Governed quoting and settlement parameters (bounds in the setters).
    struct MarketParams {
        uint256 ivSpreadWad;
        uint256 minVolWad;
        uint256 tradingFeeBps;
        uint256 settlementWindowSec;
    }

    // ------------------------------------------------------------------ errors
    error ZeroAmount(string field);
    /// @notice The asset has more than 18 decimals.
    error UnsupportedAssetDecimals(uint8 decimals);
    error UnknownSeries(uint256 seriesId, uint256 seriesCount);
    error SeriesAlreadyListed(uint256 seriesId);
    /// @notice Strike (and strike + cap) must lie in [minWad, maxWad].
    error StrikeOutOfRange(uint256 strikeWad, uint256 capWad, uint256 minWad, uint256 maxWad);
    /// @notice Calls need a cap > 0; puts must have cap 0.
    error InvalidCap(bool isCall, uint256 capWad);
    /// @notice Expiry must lie in [earliest, latest] when listed.
    error ExpiryOutOfRange(uint256 expiry, uint256 earliest, uint256 latest);
    error TooManyActiveSeries(uint256 count, uint256 maxCount);
    error TooManyPositions(address account, uint256 count, uint256 maxCount);
    /// @notice A single trade above MAX_TRADE_SIZE_WAD.
    error TradeTooLarge(uint256 sizeWad, uint256 maxSizeWad);
    error DeadlinePassed(uint256 deadline, uint256 nowSec);
    /// @notice Trading on a series at or after its expiry.
    error SeriesExpired(uint256 seriesId, uint256 expiry, uint256 nowSec);
    /// @notice A buy would cost more than the buyer's limit (premium + fee).
    error PremiumAboveMax(uint256 costUsdc, uint256 maxCostUsdc);
    /// @notice A sell would pay less than the seller's limit (premium − fee).
    error PremiumBelowMin(uint256 proceedsUsdc, uint256 minProceedsUsdc);
    /// @notice The pool's free balance (after the premium is received) cannot lock the new short.
    error PoolCannotWrite(uint256 seriesId, uint256 requiredUsdc, uint256 availableUsdc);
    /// @notice The pool's free balance cannot pay (premium, LP withdrawal).
    error PoolInsufficientLiquidity(uint256 requiredUsdc, uint256 availableUsdc);
    error NotExpired(uint256 seriesId, uint256 expiry, uint256 nowSec);
    error AlreadySettled(uint256 seriesId, uint256 settlementPriceWad);
    error NotSettled(uint256 seriesId);
    /// @notice Governance settlement opens at `opensAt`.
    error GovernanceSettlementTooEarly(uint256 opensAt, uint256 nowSec);
    error SettlementPriceOutOfRange(uint256 priceWad, uint256 minWad, uint256 maxWad);
    error NothingToClaim(address account, uint256 seriesId);
    /// @notice Deposits that would mint no shares, withdrawals that would pay nothing.
    error ZeroSharesOrAssets(uint256 assetsUsdc, uint256 shares);
    error InsufficientShares(address account, uint256 shares, uint256 balance);
    error SharesBelowMin(uint256 shares, uint256 minShares);
    error AssetsBelowMin(uint256 assetsUsdc, uint256 minAssetsUsdc);
    error IvSpreadTooHigh(uint256 spreadWad, uint256 maxWad);
    error MinVolOutOfRange(uint256 minVolWad, uint256 lowerWad, uint256 upperWad);
    error TradingFeeTooHigh(uint256 feeBps, uint256 maxBps);
    error SettlementWindowOutOfRange(uint256 windowSec, uint256 minSec, uint256 maxSec);

    // BlackScholes' domain errors, raised by the pricer and passed through (declared here so that the
    // market's ABI decodes them): a volatility above 10 (iv + spread included), spot outside [1e-6, 1e12].
    error BlackScholesInvalidInput(uint256 forwardWad, uint256 strikeWad);
    error BlackScholesSigmaTooHigh(uint256 sigmaWad, uint256 maxSigmaWad);

    // ------------------------------------------------------------------ events
    event SeriesListed(
        uint256 indexed seriesId, bool isCall, uint256 strikeWad, uint256 capWad, uint256 expiry
    );
    /// @notice A trade. `premiumUsdc` and `feeUsdc` as quoted; `collateralDeltaUsdc` is the change of the
    ///         account's locked collateral (> 0 posted, < 0 released); `sigmaWad` the volatility of the
    ///         (first) leg, `spotWad` the forward used.
    event Traded(
        address indexed account,
        uint256 indexed seriesId,
        bool isBuy,
        uint256 sizeWad,
        uint256 premiumUsdc,
        uint256 feeUsdc,
        int256 collateralDeltaUsdc,
        int256 newSizeWad,
        uint256 spotWad,
        uint256 sigmaWad
    );
    /// @notice `poolPnlUsdc` = the pool's credit at settlement minus what it had locked for the series.
    event Settled(
        uint256 indexed seriesId,
        SettlementSource source,
        uint80 roundId,
        uint256 settlementPriceWad,
        uint256 payoutWad,
        int256 poolPnlUsdc
    );
    event Claimed(address indexed account, uint256 indexed seriesId, int256 sizeWad, uint256 paidUsdc);
    event LiquidityDeposited(address indexed account, uint256 assetsUsdc, uint256 shares);
    /// @notice `priced` is false when the pool was valued at its worst case (an oracle check failed).
    event LiquidityWithdrawn(address indexed account, uint256 shares, uint256 assetsUsdc, bool priced);
    event IvSpreadSet(uint256 oldWad, uint256 newWad);
    event MinVolSet(uint256 oldWad, uint256 newWad);
    event TradingFeeSet(uint256 oldBps, uint256 newBps);
    event SettlementWindowSet(uint256 oldSec, uint256 newSec);

    // ------------------------------------------------------------------ trading
    /// @notice Buys `sizeWad` of a series from the pool at the ask: reduces the caller's short first,
    ///         then opens/increases a long. Pays premium + fee (≤ `maxCostUsdc`), receives any released
    ///         collateral, in one net transfer. Reverts with the oracle error if a feed check fails.
    /// @return premiumUsdc The premium, ⌈askWad · size / 1e30⌉.
    /// @return feeUsdc The fee, ⌈premium · feeBps / 1e4⌉.
    function buy(uint256 seriesId, uint256 sizeWad, uint256 maxCostUsdc, uint256 deadline)
        external
        returns (uint256 premiumUsdc, uint256 feeUsdc);

    /// @notice Sells `sizeWad` of a series to the pool at the bid: reduces the caller's long first, then
    ///         opens/increases a short, posting its collateral. Receives premium − fee (≥
    ///         `minProceedsUsdc`), in one net transfer with the collateral.
    /// @return premiumUsdc The premium, ⌊bidWad · size / 1e30⌋.
    /// @return feeUsdc The fee, ⌈premium · feeBps / 1e4⌉.
    function sell(uint256 seriesId, uint256 sizeWad, uint256 minProceedsUsdc, uint256 deadline)
        external
        returns (uint256 premiumUsdc, uint256 feeUsdc);

    /// @notice Fixes the settlement price (see SETTLEMENT) and books the pool's side. Anyone, once
    ///         now ≥ expiry. `roundIdHint` is the first spot round with updatedAt ≥ expiry, or — when
    ///         none is within the window — the last round before expiry; 0 walks back from the
    ///         latest round (at most MAX_ROUND_SCAN steps).
    /// @return settlementPriceWad S.
    function settle(uint256 seriesId, uint80 roundIdHint) external returns (uint256 settlementPriceWad);

    /// @notice Governance fallback price, once now > expiry + window + GOVERNANCE_SETTLE_DELAY.
    function settleByGovernance(uint256 seriesId, uint256 settlementPriceWad) external;

    /// @notice Pays the caller's settled position in a series and removes it: a long gets
    ///         ⌊p · size / 1e30⌋, a short gets collateral − ⌈p · |size| / 1e30⌉. Needs no live price.
    function claim(uint256 seriesId) external returns (uint256 paidUsdc);

    // ------------------------------------------------------------------ LP pool
    /// @notice Deposits `assetsUsdc` into the pool for shares (see LP POOL), at least `minShares`.
    function depositLiquidity(uint256 assetsUsdc, uint256 minShares) external returns (uint256 shares);

    /// @notice Burns `shares` for at least `minAssetsUsdc` out of the pool's free balance.
    function withdrawLiquidity(uint256 shares, uint256 minAssetsUsdc) external returns (uint256 assetsUsdc);

    // ------------------------------------------------------------------ governance
    /// @notice Lists a series. Calls need capWad > 0 (payout cap per ETH), puts capWad = 0.
    ///         MIN_PRICE_WAD ≤ K and K + cap ≤ MAX_PRICE_WAD; expiry in [now + MIN_TENOR, now + MAX_TENOR].
    function listSeries(bool isCall, uint256 strikeWad, uint256 capWad, uint256 expiry)
        external
        returns (uint256 seriesId);

    /// @notice Volatility added to the IV for asks and taken off for bids, ≤ MAX_IV_SPREAD_WAD.
    function setIvSpread(uint256 spreadWad) external;
    /// @notice Floor of the bid volatility, in [MIN_VOL_LOWER_WAD, MIN_VOL_UPPER_WAD].
    function setMinVol(uint256 minVolWad) external;
    /// @notice Fee on the premium, ≤ MAX_TRADING_FEE_BPS.
    function setTradingFee(uint256 feeBps) external;
    /// @notice In [MIN_SETTLEMENT_WINDOW, MAX_SETTLEMENT_WINDOW].
    function setSettlementWindow(uint256 windowSec) external;
    // ------------------------------------------------------------------ views
    function asset() external view returns (address);
    /// @notice The stateless Black-76 pricer (IOptionPricer) every quote and mark goes through.
    function pricer() external view returns (address);
    /// @notice The oracle adapter (IOptionOracle): live spot and IV, and settlement prices.
    function oracle() external view returns (address);
    function ivSpreadWad() external view returns (uint256);
    function minVolWad() external view returns (uint256);
    function tradingFeeBps() external view returns (uint256);
    function settlementWindowSec() external view returns (uint256);

    function seriesCount() external view returns (uint256);
    function series(uint256 seriesId) external view returns (SeriesInfo memory);
    /// @notice Listed series not yet settled (at most MAX_ACTIVE_SERIES).
    function activeSeries() external view returns (uint256[] memory);
    /// @notice The series in which `account` holds a position (open or settled and unclaimed), at most
    ///         MAX_POSITIONS_PER_ACCOUNT.
    function accountSeries(address account) external view returns (uint256[] memory);
    /// @notice Signed size (long > 0) and locked collateral of a position.
    function position(address account, uint256 seriesId)
        external
        view
        returns (int256 sizeWad, uint256 collateralUsdc);

    /// @notice Premium and fee of a trade now (what `buy`/`sell` would charge or pay in this block).
    ///         Reverts with the oracle error when a feed check fails, and SeriesExpired after expiry.
    function quote(uint256 seriesId, bool isBuy, uint256 sizeWad)
        external
        view
        returns (uint256 premiumUsdc, uint256 feeUsdc);

    /// @notice Black-76 price per ETH at iv (no spread), nearest wei; after expiry the intrinsic value at
    ///         the live spot; after settlement the payout. Reverts with the oracle error on a failed check.
    function markPriceWad(uint256 seriesId) external view returns (uint256 priceWad);

    /// @notice markLow ≤ exact price at iv ≤ markHigh (see QUOTES). Reverts like markPriceWad.
    function markBoundsWad(uint256 seriesId) external view returns (uint256 lowWad, uint256 highWad);

    /// @notice Price, delta (∂V/∂F per ETH) and vega (per 1.00 of volatility) at iv, nearest; for a
    ///         call those of call(K) − call(K + C) (a spread's vega can be negative). Reverts like
    ///         markPriceWad; zero Greeks at or after expiry.
    function markGreeks(uint256 seriesId) external view returns (uint256 priceWad, int256 deltaWad, int256 vegaWad);

    /// @notice ⌈maxPayoutWad · size / 1e30⌉: the collateral of a short of `sizeWad`.
    function collateralRequiredUsdc(uint256 seriesId, uint256 sizeWad) external view returns (uint256);

    /// @notice One position valued (never reverts for an oracle failure; see AccountValue.priced).
    function positionValue(address account, uint256 seriesId)
        external
        view
        returns (PositionValue memory pv, bool priced);

    /// @notice All of an account's positions valued (never reverts for an oracle failure).
    function accountValue(address account) external view returns (AccountValue memory);

    function poolFreeUsdc() external view returns (uint256);
    function poolLockedUsdc() external view returns (uint256);
    /// @notice Σ heldUsdc over series: short collateral and settled claims reserves.
    function heldForAccountsUsdc() external view returns (uint256);
    function totalPoolShares() external view returns (uint256);
    function poolSharesOf(address account) external view returns (uint256);
    /// @notice navLow ≤ navHigh (see LP POOL); with a failed oracle check or a reverting feed
    ///         (priced = false) the worst and best cases: navLow = free, navHigh = free + locked +
    ///         Σ ⌈S_open · maxPayout / 1e30⌉. Without open positions no oracle is consulted.
    function poolNav() external view returns (uint256 navLowUsdc, uint256 navHighUsdc, bool priced);
}
