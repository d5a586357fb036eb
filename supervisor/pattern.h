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

/* Work units per millisecond on the project's machines (one unit is one
 * step of the matcher; see bench/ and the sandbox tests). */
#define PATTERN_UNITS_PER_MS 300000.0

/*
 * An upper bound, in matcher steps, of matching pattern p (lp bytes) against
 * every start position of a subject of n bytes: for q repetition items
 * (x*, x+, x-, %b, back-references) Lua's matcher tries at most
 * C(n+q, q) ways from each start, and an item with ? doubles that. A plain
 * search (plain = true, or a pattern without magic characters) compares at
 * most n * lp bytes, which count as a thirtieth of a step each.
 */
double pattern_cost(size_t n, const char *p, size_t lp, bool plain);

#endif
