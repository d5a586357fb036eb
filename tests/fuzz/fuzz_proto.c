/*
 * libFuzzer target: the handshake decoders of target-shim/proto.c, which
 * read what a peer on the supervisor's socket (or the supervisor, for the
 * shim) sends. Every decoder sees every input. A message that decodes is
 * encoded again and must come out byte for byte the same: the wire format
 * has one spelling per message, so a decoder that accepts anything else
 * lets through bytes the encoder would never send. The validators shared
 * with the command line see the input as a string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sysgate/protocol.h"

/* Aborts (a crash libFuzzer reports) when a re-encoded message differs. */
static void same(const void *in, size_t len, const void *out, ssize_t n)
{
	if (n < 0 || (size_t)n != len || memcmp(in, out, len) != 0)
		abort();
}

static void strings(const uint8_t *data, size_t size)
{
	char s[512];
	sg_label_t l;
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;

	memcpy(s, data, n);
	s[n] = '\0';
	(void)sg_proto_valid_name(s);
	(void)sg_proto_parse_mode(s);
	if (sg_proto_parse_label(s, &l) == 0 &&
	    (strlen(l.key) > SG_PROTO_MAX_KEY || strlen(l.value) > SG_PROTO_MAX_VALUE))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char out[SG_PROTO_MAX_MSG];
	static sg_hello_t hello;
	static sg_spec_t spec;
	sg_refuse_t refuse;
	sg_ready_t ready;
	sg_msg_header_t h;

	strings(data, size);
	if (sg_proto_check_header(data, size, &h) < 0)
		return 0;
	memset(&hello, 0, sizeof(hello));
	if (sg_proto_decode_hello(data, size, &hello) == 0)
		same(data, size, out, sg_proto_encode_hello(&hello, out, sizeof(out)));
	memset(&spec, 0, sizeof(spec));
	if (sg_proto_decode_spec(data, size, &spec) == 0)
		same(data, size, out, sg_proto_encode_spec(&spec, out, sizeof(out)));
	memset(&refuse, 0, sizeof(refuse));
	if (sg_proto_decode_refuse(data, size, &refuse) == 0)
		same(data, size, out, sg_proto_encode_refuse(&refuse, out, sizeof(out)));
	if (sg_proto_decode_listener(data, size) == 0)
		same(data, size, out, sg_proto_encode_listener(out, sizeof(out)));
	if (sg_proto_decode_ready(data, size, &ready) == 0)
		same(data, size, out, sg_proto_encode_ready(&ready, out, sizeof(out)));
	return 0;
}
