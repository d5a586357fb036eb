/*
 * Token buckets. A clock that goes backwards (it cannot: the callers read
 * CLOCK_MONOTONIC, but a test may) adds nothing.
 */
#include "tokens.h"

void tokens_init(tokens_t *b, double rate, double burst, uint64_t now_ns)
{
	b->rate = rate > 0 ? rate : 1e-9;
	b->burst = burst >= 1 ? burst : 1;
	b->level = b->burst;
	b->last_ns = now_ns;
}

static void refill(tokens_t *b, uint64_t now_ns)
{
	if (now_ns > b->last_ns) {
		b->level += (double)(now_ns - b->last_ns) * b->rate / 1e9;
		if (b->level > b->burst)
			b->level = b->burst;
		b->last_ns = now_ns;
	}
}

bool tokens_take(tokens_t *b, uint64_t now_ns)
{
	refill(b, now_ns);
	if (b->level < 1)
		return false;
	b->level -= 1;
	return true;
}

uint64_t tokens_wait_ns(tokens_t *b, uint64_t now_ns)
{
	refill(b, now_ns);
	if (b->level >= 1)
		return 0;
	return (uint64_t)((1 - b->level) * 1e9 / b->rate) + 1;
}
