// SPDX-License-Identifier: GPL-2.0
/* pprof.h - call-site profiles (sites.h) as a pprof profile: a gzipped
 * profile.proto message (github.com/google/pprof/proto/profile.proto) in
 * the Go heap-profile convention, what `go tool pprof`, Grafana Pyroscope
 * and Parca read. Sample types alloc_objects/count, alloc_space/bytes,
 * inuse_objects/count, inuse_space/bytes (inuse: live at the end of the
 * trace) and os_space/bytes (bytes obtained from the OS by the stack's
 * calls); period_type space/bytes. One sample per allocation stack,
 * locations leaf first starting at the call site (the allocator's own
 * frames are left out), a numeric label "pid", mappings with the object's
 * file name and build id. The encoder is hand-written
 * (varints and length-delimited fields); zlib compresses. */
#ifndef ALLOCMAP_PPROF_H
#define ALLOCMAP_PPROF_H

#include <stddef.h>
#include <stdint.h>
#include "sites.h"

struct am_pprof_meta {
	uint64_t period;       /* 1, or the --sample rate */
	uint64_t time_ns;      /* when the trace started (Unix ns), 0 unknown */
	uint64_t duration_ns;  /* how long it ran, 0 unknown */
	/* the build id (hex) of object obj in pid when its frames have none
	 * (a trace read back), NULL unknown; build_id itself may be NULL */
	const char *(*build_id)(void *ctx, uint32_t pid, const char *obj);
	void *ctx;
	const char *default_type; /* the sample type shown by default: NULL
	                             "alloc_space", or "inuse_space" (a heap
	                             profile) */
};

/* Encodes r as an uncompressed profile.proto message into *out
 * (malloc'ed, *len bytes). 0, or -1 when memory runs out. */
int am_pprof_encode(const struct am_sites_report *r, const struct am_pprof_meta *m,
		    uint8_t **out, size_t *len);

/* Encodes and gzips the profile into *out (malloc'ed, *len bytes). 0, or
 * -1 when memory runs out. */
int am_pprof_gzip(const struct am_sites_report *r, const struct am_pprof_meta *m,
		  uint8_t **out, size_t *len);

/* Encodes, gzips and writes the profile to path (opened as an output file,
 * safeio.h; a partial regular file is removed). 0, or -1 with a one-line
 * reason in err (to follow "cannot write PATH: "). */
int am_pprof_write(const char *path, const struct am_sites_report *r, const struct am_pprof_meta *m,
		   char *err, size_t errlen);

#endif /* ALLOCMAP_PPROF_H */
