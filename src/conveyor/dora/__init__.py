"""DORA metrics (deployment frequency, lead time for changes, change failure rate, time to
restore) computed from what really happened, per pipeline and per service; docs/dora.md defines
them.

The computation is pure and split from the reading of history, so it is tested on constructed
histories with exact expected values:

- `production`: which environments count (conveyor.yml's `production:` flag, else the name);
- `fold`: the deployment events of production, in order, folded into one `Change` per
  deployment of a change, with its outcome, failure cause, onset, restoration and commit time;
- `metrics`: the four metrics, the daily series and the counts of a set of changes over a window;
- `bands`: the published DORA performance bands (elite/high/medium/low);
- `history`: the daemon's side, reading events.db and conveyor.db, then calling the above.
"""
