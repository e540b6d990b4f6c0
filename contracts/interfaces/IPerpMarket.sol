// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IPerpMarket
/// @notice A linear, USDC-margined ETH perpetual with isolated margin per account. The venue itself (an
///         LP pool funded in USDC) is the counterparty of every trade: traders' realised profits are paid
///         from the pool, their losses and fees go to it. Mark price = index price (the ETH/USD spot
///         feed); funding accrues continuously from a funding-rate feed (longs pay shorts when the rate
///         is positive). Below maintenance margin anyone may liquidate an account: the whole position is
///         closed at the index, a penalty goes to the venue's insurance fund (a share of it to the
///         liquidator), and any negative equity is bad debt, covered by the insurance fund first and the
///         pool after that.
/// @dev Units, in every name: `Wad` = 18 decimals (sizes in ETH, prices in USD per ETH, rates where
///      1e18 = 100%), `Usdc` = the collateral's 6 decimals, `Bps` = 1/10_000. Sizes are signed (long > 0,
///      short < 0). An account is an address; only that address trades and withdraws for it, anyone may
///      add margin to it. Formulas and rounding: see PerpMath; they are keeper/risk.py's:
///        equity         = m + (P − EP)·s + f              (f = funding accrued since the last settlement)
///        maintenance    = mmr·|s|·P,   initial = imr·|s|·P
///        margin ratio   = equity / maintenance
///        liq. price     = (EP·s − m − f) / (s − mmr·|s|)
///      Roles: DEFAULT_ADMIN_ROLE (grants roles; two-step transfer with a delay), GOVERNANCE_ROLE
///      (bounded parameters, pool withdrawals).
///      Oracle failures (stale, zero, negative price, future timestamps) make trades, margin withdrawals
///      of open accounts, liquidations and every oracle-dependent view revert; margin top-ups, pool and
///      insurance deposits, and margin withdrawals of flat accounts never read an oracle.
///
///      Integration (PerpLeg, an account held by the vault): `depositMargin(address(this), x)` after
///      receiving x; `trade(−size, minPrice)` to open/increase the short, `trade(+size, maxPrice)` to
///      reduce/close it; `withdrawMargin(x, vault)` up to `withdrawableMarginUsdc(address(this))`.
///      `delta()` = `position(leg).sizeWad` (storage only, never reverts). `value()` =
///      max(`accountEquityUsdc(leg)`, 0), already rounded down; it reads the oracle while a position is
///      open and then reverts on a bad feed, so the leg must catch that (IHedgeLeg.value never reverts)
///      and choose its fallback. `accountView(leg)` gives the keeper every input of
///      keeper.positions.PerpPosition (m = marginUsdc, f = pendingFundingUsdc) in one call.
interface IPerpMarket {
    /// @notice Risk parameters. `imrWad`/`mmrWad`: initial / maintenance margin rates of notional
    ///         (0 < mmr ≤ imr ≤ 1, mmr < 1). `tradingFeeBps`: fee on traded notional.
    ///         `liquidationPenaltyBps`: penalty on the liquidated notional; `liquidatorShareBps`: the
    ///         liquidator's share of that penalty (the rest to the insurance fund).
    ///         `maxFundingRate8hWad`: clamp on |8-hour funding rate|. `oracleMaxAge`: seconds.
    struct MarketParams {
        uint256 imrWad;
        uint256 mmrWad;
        uint256 tradingFeeBps;
        uint256 liquidationPenaltyBps;
        uint256 liquidatorShareBps;
        uint256 maxFundingRate8hWad;
        uint256 oracleMaxAge;
    }

    /// @notice An account's stored state. `marginUsdc` is settled cash (deposits − withdrawals + realised
    ///         PnL + settled funding − fees); it can be negative only while a position is open (settled
    ///         funding or a loss larger than the cash, carried by unrealised profit). `fundingIndexSnapshotWad`
    ///         is the cumulative funding index at the last settlement. Flat: size 0, entry 0.
    struct Position {
        int256 sizeWad;
        uint256 entryPriceWad;
        int256 marginUsdc;
        int256 fundingIndexSnapshotWad;
    }

    /// @notice Everything the keeper needs about one account, at one index price (one call, one block).
    ///         `pendingFundingUsdc` is the funding a settlement now would book; the rest follow the
    ///         formulas above with `position.marginUsdc` as m and `pendingFundingUsdc` as f.
    struct AccountView {
        Position position;
        uint256 indexPriceWad;
        int256 pendingFundingUsdc;
        int256 equityUsdc;
        uint256 initialMarginUsdc;
        uint256 maintenanceMarginUsdc;
        int256 marginRatioWad;
        uint256 liquidationPriceWad;
    }

    // ------------------------------------------------------------------ errors
    /// @notice An amount argument was zero where a positive value is required.
    error ZeroAmount(string field);
    /// @notice An address argument was the zero address.
    error ZeroAddress(string field);
    /// @notice A feed's decimals are above 18 (cannot be normalised to wad by multiplication).
    error OracleDecimalsUnsupported(address feed, uint8 decimals);
    /// @notice The price feed answered ≤ 0 (or above the largest price the market handles, 2^128 − 1 wad).
    error InvalidOraclePrice(address feed, int256 answer);
    /// @notice A feed's round is missing (`updatedAt` = 0), in the future, or older than `maxAge` seconds.
    error StaleOracle(address feed, uint256 updatedAt, uint256 blockTimestamp, uint256 maxAge);
    /// @notice Margin rates out of bounds: need 0 < mmr ≤ imr ≤ maxImr and mmr < 1e18.
    error MarginRatesOutOfBounds(uint256 imrWad, uint256 mmrWad, uint256 maxImrWad);
    error TradingFeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    error LiquidationPenaltyTooHigh(uint256 penaltyBps, uint256 maxPenaltyBps);
    error LiquidatorShareTooHigh(uint256 shareBps, uint256 maxShareBps);
    error MaxFundingRateTooHigh(uint256 rate8hWad, uint256 maxRate8hWad);
    error OracleMaxAgeOutOfBounds(uint256 maxAge, uint256 minMaxAge, uint256 maxMaxAge);
    /// @notice The index price is worse than the trader's limit (buy: price > limit; sell: price < limit).
    error LimitPriceExceeded(int256 sizeDeltaWad, uint256 priceWad, uint256 limitPriceWad);
    /// @notice After a risk-increasing trade or a withdrawal, equity would be below the initial margin.
    error InitialMarginBreached(address account, int256 equityUsdc, uint256 initialMarginUsdc);
    /// @notice A risk-reducing trade would leave negative equity: the account can only be liquidated.
    error NegativeEquity(address account, int256 equityUsdc);
    /// @notice Withdrawing more than the account's settled margin (unrealised profit is not withdrawable).
    error InsufficientMargin(address account, uint256 requestedUsdc, int256 marginUsdc);
    /// @notice The venue cannot pay the withdrawal: the pool is in deficit (it owes realised profits it
    ///         does not hold) and the cash backing traders' margins is short. `availableUsdc` is what
    ///         traders may withdraw in total now; `poolUsdc` the (negative) pool balance.
    error PoolInsolvent(uint256 requestedUsdc, uint256 availableUsdc, int256 poolUsdc);
    /// @notice Governance withdrawing more than the pool's positive balance.
    error InsufficientPool(uint256 requestedUsdc, int256 poolUsdc);
    /// @notice The account is at or above maintenance margin.
    error NotLiquidatable(address account, int256 equityUsdc, uint256 maintenanceMarginUsdc);
    /// @notice The account has no open position.
    error NoPosition(address account);

    // ------------------------------------------------------------------ events
    event MarginDeposited(address indexed account, address indexed from, uint256 amountUsdc);
    event MarginWithdrawn(address indexed account, address indexed to, uint256 amountUsdc);
    /// @notice The cumulative funding index advanced by `ratePerSecWad · indexPriceWad · elapsed / 1e18`.
    event FundingIndexUpdated(
        int256 cumulativeFundingWad, int256 ratePerSecWad, uint256 indexPriceWad, uint256 elapsed
    );
    /// @notice Funding settled into an account's margin (+ = received), against the pool.
    event FundingSettled(address indexed account, int256 amountUsdc, int256 cumulativeFundingWad);
    /// @notice A trade at `priceWad`; `realisedPnlUsdc` is the PnL of the part that reduced or closed
    ///         the previous position (settled into margin); `feeUsdc` went to the pool.
    event Traded(
        address indexed account,
        int256 sizeDeltaWad,
        uint256 priceWad,
        uint256 feeUsdc,
        int256 realisedPnlUsdc,
        int256 newSizeWad,
        uint256 newEntryPriceWad
    );
    /// @notice The whole position `sizeClosedWad` was closed at `priceWad`. `equityUsdc` is the equity
    ///         at that price before the penalty; `penaltyUsdc` (≤ max(equity, 0)) was taken from the
    ///         account, of which `liquidatorRewardUsdc` paid to the liquidator, the rest to insurance.
    event Liquidated(
        address indexed account,
        address indexed liquidator,
        int256 sizeClosedWad,
        uint256 priceWad,
        int256 equityUsdc,
        uint256 penaltyUsdc,
        uint256 liquidatorRewardUsdc
    );
    /// @notice A liquidation left negative equity `shortfallUsdc`: the insurance fund covered
    ///         `coveredByInsuranceUsdc`, the pool absorbed `socialisedUsdc` (added to `badDebtUsdc()`).
    event BadDebt(
        address indexed account, uint256 shortfallUsdc, uint256 coveredByInsuranceUsdc, uint256 socialisedUsdc
    );
    event PoolDeposited(address indexed from, uint256 amountUsdc);
    event PoolWithdrawn(address indexed to, uint256 amountUsdc);
    event InsuranceDeposited(address indexed from, uint256 amountUsdc);
    event MarginRatesSet(uint256 oldImrWad, uint256 oldMmrWad, uint256 newImrWad, uint256 newMmrWad);
    event TradingFeeSet(uint256 oldFeeBps, uint256 newFeeBps);
    event LiquidationPenaltySet(
        uint256 oldPenaltyBps, uint256 oldLiquidatorShareBps, uint256 newPenaltyBps, uint256 newLiquidatorShareBps
    );
    event MaxFundingRateSet(uint256 oldRate8hWad, uint256 newRate8hWad);
    event OracleMaxAgeSet(uint256 oldMaxAge, uint256 newMaxAge);

    // ------------------------------------------------------------------ views
    /// @notice The collateral token (USDC, 6 decimals).
    function collateral() external view returns (address);
    /// @notice ETH/USD spot feed: the index (and mark) price.
    function priceFeed() external view returns (address);
    /// @notice Funding feed: the 8-hour funding rate, `10**decimals()` = 100% per 8 hours (e.g. with 8
    ///         decimals, 10_000 = 0.01% per 8 h); positive = longs pay shorts.
    function fundingFeed() external view returns (address);
    function params() external view returns (MarketParams memory);

    /// @notice Validated index price, USD per ETH, wad. Reverts on a bad or stale feed.
    function indexPriceWad() external view returns (uint256);
    /// @notice Funding rate per second, wad (1e18 = 100%/s): the feed's 8-hour rate normalised to wad,
    ///         clamped to ±maxFundingRate8hWad, divided by 28_800 (truncated toward zero).
    function fundingRatePerSecWad() external view returns (int256);
    /// @notice The cumulative funding index now (stored value + accrual since the last update), USD
    ///         per ETH of long size, wad.
    function cumulativeFundingWad() external view returns (int256);
    /// @notice Timestamp of the last funding-index update.
    function lastFundingUpdate() external view returns (uint256);

    /// @notice Stored state of `account` (no oracle read).
    function position(address account) external view returns (Position memory);
    /// @notice Full marked state of `account` at the current index price (reads both feeds).
    function accountView(address account) external view returns (AccountView memory);
    /// @notice m + ⌊(P − EP)·s⌋ + ⌊f⌋, USDC, rounded down. Flat accounts: the margin (no oracle read).
    function accountEquityUsdc(address account) external view returns (int256);
    /// @notice What a hedging account needs for its book, in one call: the stored size, the equity (as
    ///         `accountEquityUsdc`) and the maintenance margin rate. Flat accounts: no oracle read.
    function accountBook(address account) external view returns (int256 sizeWad, int256 equityUsdc, uint256 mmrWad);
    /// @notice Funding a settlement now would book into the account (+ = received), USDC, rounded down.
    function pendingFundingUsdc(address account) external view returns (int256);
    /// @notice ⌈mmr·|s|·P⌉, USDC. 0 when flat.
    function maintenanceMarginUsdc(address account) external view returns (uint256);
    /// @notice ⌈imr·|s|·P⌉, USDC. 0 when flat.
    function initialMarginUsdc(address account) external view returns (uint256);
    /// @notice equity / maintenance, wad (1e18 = at maintenance), rounded toward −∞; negative when the
    ///         equity is; type(int256).max when flat.
    function marginRatioWad(address account) external view returns (int256);
    /// @notice (EP·s − m − f) / (s − mmr·|s|), wad; 0 when flat or when a long cannot be liquidated by a
    ///         fall; 0 also for a short liquidatable at every price. Long: liquidated when P ≤ it (rounded
    ///         up); short: when P ≥ it (rounded down).
    function liquidationPriceWad(address account) external view returns (uint256);
    /// @notice equity < maintenance (and a position is open).
    function isLiquidatable(address account) external view returns (bool);
    /// @notice What `withdrawMargin` would accept now: min(margin, equity − initial, venue cash available
    ///         to traders), floored at 0 (all after settling pending funding).
    function withdrawableMarginUsdc(address account) external view returns (uint256);

    /// @notice The LP pool's balance, USDC: deposits − withdrawals − traders' realised PnL − net funding
    ///         paid + fees − socialised bad debt. Negative = the pool owes traders more than it holds.
    function poolUsdc() external view returns (int256);
    /// @notice The venue's insurance fund, USDC: penalties (net of liquidator rewards) + deposits −
    ///         bad debt covered.
    function insuranceFundUsdc() external view returns (uint256);
    /// @notice Cumulative bad debt the insurance fund could not cover (absorbed by the pool), USDC.
    function badDebtUsdc() external view returns (uint256);

    // ------------------------------------------------------------------ accounts
    /// @notice Adds `amountUsdc` (pulled from the caller) to `account`'s margin. Anyone may top up any
    ///         account; no oracle read, so it works while the feeds are down.
    function depositMargin(address account, uint256 amountUsdc) external;

    /// @notice Sends `amountUsdc` of the caller's margin to `to`. Settles funding first. Requires
    ///         amount ≤ margin, equity after ≥ initial margin (open positions), and venue cash available
    ///         to traders ≥ amount (see PoolInsolvent). Flat accounts need no oracle.
    function withdrawMargin(uint256 amountUsdc, address to) external;

    /// @notice Buys (`sizeDeltaWad` > 0) or sells (< 0) for the caller at the index price. Fee ⌈bps·|Δ|·P⌉
    ///         comes out of margin. Increases (and flips) need equity after ≥ initial margin on the new
    ///         size; reductions need equity after ≥ 0. `limitPriceWad` protects the trader: buys need
    ///         price ≤ limit, sells price ≥ limit.
    /// @return priceWad Execution price; feeUsdc Fee charged; realisedPnlUsdc PnL settled into margin.
    function trade(int256 sizeDeltaWad, uint256 limitPriceWad)
        external
        returns (uint256 priceWad, uint256 feeUsdc, int256 realisedPnlUsdc);

    /// @notice Closes `account`'s whole position at the index when equity < maintenance. Permissionless.
    /// @return penaltyUsdc Penalty taken; rewardUsdc Paid to the caller; socialisedUsdc Bad debt the
    ///         insurance fund could not cover.
    function liquidate(address account)
        external
        returns (uint256 penaltyUsdc, uint256 rewardUsdc, uint256 socialisedUsdc);

    /// @notice Brings the funding index up to now (reads both feeds). Anyone; lets keepers sample the
    ///         funding rate more often than trades do (the rate read at a touch applies to the whole
    ///         interval since the previous touch).
    function accrueFunding() external returns (int256 cumulativeFundingWad);

    // ------------------------------------------------------------------ house
    /// @notice Adds `amountUsdc` (pulled from the caller) to the LP pool. Anyone.
    function depositPool(uint256 amountUsdc) external;
    /// @notice Adds `amountUsdc` (pulled from the caller) to the insurance fund. Anyone.
    function depositInsurance(uint256 amountUsdc) external;
    /// @notice Governance takes `amountUsdc` ≤ the pool's positive balance out of the pool.
    function withdrawPool(uint256 amountUsdc, address to) external;

    // ------------------------------------------------------------------ governance
    function setMarginRates(uint256 imrWad, uint256 mmrWad) external;
    function setTradingFee(uint256 feeBps) external;
    function setLiquidationPenalty(uint256 penaltyBps, uint256 liquidatorShareBps) external;
    /// @notice Accrues funding at the old clamp first (reads both feeds).
    function setMaxFundingRate(uint256 rate8hWad) external;
    function setOracleMaxAge(uint256 maxAge) external;
}
