/*
 * Upper bounds of Lua pattern matching work (see pattern.h). The parse
 * follows the pattern syntax of the Lua 5.4 manual (section 6.4.1); it
 * only counts, it never matches, so a malformed pattern gets a bound too
 * and Lua itself reports the error afterwards.
 */
#include <string.h>

#include "pattern.h"

#define SPECIALS "^$*+?.([%-"
#define COST_CAP 1e30

static bool has_specials(const char *p, size_t lp)
{
	for (size_t i = 0; i < lp; i++)
		if (p[i] != '\0' && strchr(SPECIALS, p[i]))
			return true;
	return false;
}

/* Skips a [set] starting at p[i] == '['; returns the index after it. */
static size_t skip_set(const char *p, size_t lp, size_t i)
{
	i++;
	if (i < lp && p[i] == '^')
		i++;
	do { /* the first ']' right after '[' or '[^' is a member */
		if (i >= lp)
			return lp;
		if (p[i] == '%' && i + 1 < lp)
			i++;
		i++;
	} while (i < lp && p[i] != ']');
	return i < lp ? i + 1 : lp;
}

/* C(n + q, q) in floating point, capped. */
static double ways(double n, int q)
{
	double r = 1;

	for (int k = 1; k <= q && r < COST_CAP; k++)
		r = r * (n + k) / k;
	return r;
}

double pattern_cost(size_t n, const char *p, size_t lp, bool plain, bool memfind, bool can_anchor)
{
	size_t i = 0;
	double doubling = 1, starts, r;
	bool anchored;
	int q = 0;

	if (plain || (memfind && !has_specials(p, lp)))
		return ((double)n + 1) * ((double)lp + 1) / 30;
	anchored = can_anchor && lp > 0 && p[0] == '^';
	i = anchored;
	while (i < lp) {
		char c = p[i];

		if (c == '(' || c == ')') {
			i++;
			continue;
		}
		if (c == '%' && i + 1 < lp && p[i + 1] == 'b') {
			q++; /* scans for the balance: linear at each try */
			i += 4;
			continue;
		}
		if (c == '%' && i + 1 < lp && p[i + 1] == 'f') {
			i += 2;
			if (i < lp && p[i] == '[')
				i = skip_set(p, lp, i);
			continue;
		}
		if (c == '%' && i + 1 < lp && p[i + 1] >= '0' && p[i + 1] <= '9') {
			q++; /* a back-reference compares up to n bytes */
			i += 2;
			continue;
		}
		if (c == '[')
			i = skip_set(p, lp, i);
		else
			i += c == '%' ? 2 : 1;
		if (i < lp && (p[i] == '*' || p[i] == '+' || p[i] == '-')) {
			q++;
			i++;
		} else if (i < lp && p[i] == '?') {
			doubling *= 2;
			i++;
		}
	}
	starts = anchored ? 1 : (double)n + 1;
	/* every way walks the pattern, and a [set] costs its length per byte */
	r = starts * ways((double)n, q) * doubling * ((double)lp + 1);
	return r < COST_CAP ? r : COST_CAP;
}
