/*
 * A token bucket on a clock the caller passes in (monotonic ns): rate
 * tokens a second, at most burst of them, one taken per event. The
 * caller owns the clock, so tests drive it by hand and one reading
 * serves every bucket a call touches.
 */
#ifndef SG_TOKENS_H
#define SG_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct tokens {
	double rate;  /* tokens per second; > 0 */
	double burst; /* capacity; >= 1 */
	double level; /* tokens now */
	uint64_t last_ns;
} tokens_t;

/* A full bucket at now_ns. */
void tokens_init(tokens_t *b, double rate, double burst, uint64_t now_ns);

/* Refills to now_ns, then takes one token if there is one. */
bool tokens_take(tokens_t *b, uint64_t now_ns);

/* Nanoseconds from now_ns until a token is there (0: one is). */
uint64_t tokens_wait_ns(tokens_t *b, uint64_t now_ns);

#endif
