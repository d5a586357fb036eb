/*
 * What a Lua pattern match can cost, before it runs.
 *
 * Lua's matcher runs in one C call that the instruction hook cannot
 * interrupt, and it backtracks: string.find(("a"):rep(4096), "a*a*b") takes
 * over a minute. The sandbox asks pattern_cost() for an upper bound of the
 * work of a find/match/gmatch/gsub on the actual subject and refuses the
 * call when the bound would not fit the handler's remaining time.
 */
#ifndef SG_PATTERN_H
#define SG_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

/* Work units per millisecond, the lowest measured on the project's
 * machines: a*b on 4096 bytes is 6.7e7 units and 45 ms, a*a*b on 1000
 * bytes 3e9 units and 1.7 s, a*a*a*b on 300 bytes 1.1e10 and 3.7 s. */
#define PATTERN_UNITS_PER_MS 1.5e6

/*
 * An upper bound, in work units, of matching pattern p (lp bytes) against
 * every start position of a subject of n bytes: for q repetition items
 * (x*, x+, x-, %b, back-references) Lua's matcher tries at most C(n+q, q)
 * ways from each start, an item with ? doubles that, and each way walks
 * the pattern (lp). A leading ^ anchors only where can_anchor (not in
 * gmatch, where it is a literal). A plain search -- plain = true, or with
 * memfind a pattern without magic characters, which string.find compares
 * with memcmp -- costs n * lp bytes, a thirtieth of a unit each.
 */
double pattern_cost(size_t n, const char *p, size_t lp, bool plain, bool memfind, bool can_anchor);

#endif
