"""Official rates: the central banks of the ticker's currencies as providers, beside the ticker.

providers: who they are and where they answer; parse: their answers to rows (pure); fetch: asking them
politely (HTTP only); store: the official_rate hypertable and the run accounting (SQL only); run: the
wiring that the CLI, the scheduler and the backfill call.
"""
