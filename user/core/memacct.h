// SPDX-License-Identifier: GPL-2.0
/* memacct.h - the one accounting model: every byte figure allocmap shows
 * (bytes live in allocations, the brk heap, the allocator's mappings, what
 * it holds from the OS, what it gave back, and their peaks) is computed
 * here, from the same operations wherever they come from. The correlator
 * feeds it the records it delivers (so the tracer's summary, `top` and
 * `compare` read it through am_summary); the report replays a JSON Lines
 * trace through it (report_model.c), record by record in file order, which
 * is the order the correlator delivered them: the two cannot disagree.
 *
 * The rules (README "Accounting"):
 *  - Per process, a map of page ranges, each with the kind of mapping it
 *    belongs to (enum am_region_kind, as the record says) and whether it
 *    is accessible (its protection is not PROT_NONE). mmap and mremap put
 *    ranges in, munmap and mremap take them out, mprotect changes the
 *    accessibility of the pages it covers that are in the map. Lengths are
 *    rounded up to whole 4 KiB pages.
 *  - mmap_bytes is the number of accessible bytes in ranges of kind mmap or
 *    arena: the size of the union of those pages, so re-protecting pages
 *    that are already accessible (mimalloc commits 64 KiB, then 1 MiB from
 *    the same address) counts them once, and a PROT_NONE reservation counts
 *    only for the parts made accessible. direct_bytes is the same for kind
 *    direct (the program's own mappings); preexisting and unknown ranges
 *    count in neither.
 *  - heap_bytes is the brk heap's size, end - start: the first brk seen
 *    (or the seeded [heap]) sets both ends, each later one moves the end.
 *  - committed_bytes = heap_bytes + mmap_bytes: what the allocator holds
 *    from the OS. Its peak is the peak of that sum, not a sum of peaks.
 *  - returned: munmap made inside an allocator call counts the accessible
 *    bytes it removed (any kind); madvise(DONTNEED/FREE/REMOVE) inside an
 *    allocator call counts its page-rounded length each time (the model
 *    cannot know whether the pages were touched in between); a brk that
 *    lowers the break counts what it took off.
 *  - Failed syscalls change nothing (brk never fails that way: it returns
 *    the old break, which moves nothing).
 *  - Live bytes: every outermost allocation with a valid result is entered
 *    under its pointer; a free removes it (am_acct_free says when it
 *    cannot have freed it). Peaks are taken after each whole operation.
 *  - exec drops the process's ranges, heap and live allocations.
 * Plain C, no libbpf: unit-tested in tests/unit/test_memacct.c. */
#ifndef ALLOCMAP_MEMACCT_H
#define ALLOCMAP_MEMACCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model.h"

struct am_acct;
struct am_acct_proc;

/* The figures, summed over every process. */
struct am_acct_figs {
	uint64_t live, live_peak, live_count;  /* bytes live in allocations, their number */
	uint64_t heap, heap_peak;              /* brk heap */
	uint64_t mmap, mmap_peak;              /* allocator mappings, accessible bytes */
	uint64_t committed, committed_peak;    /* heap + mmap */
	uint64_t direct;                       /* the program's own mappings, accessible bytes */
	uint64_t returned_munmap, returned_madvise, returned_brk;
};

/* One live allocation. ptr, size, ts and the prev_* fields belong to the
 * model; call_id, stack and region are the caller's to fill (the
 * correlator keeps its allocation's call, stack and region there). */
struct am_acct_live {
	uint64_t ptr;            /* 0 = empty slot */
	uint64_t size;           /* bytes requested */
	uint64_t ts;             /* when the call that returned it ended */
	uint64_t call_id;
	uint32_t stack;
	uint8_t  region;         /* enum am_region_kind */
	uint8_t  prev_region;    /* the incarnation it displaced (has_prev) */
	bool     has_prev;       /* it displaced one never seen freed */
	uint64_t prev_size;
};

/* What am_acct_free did. */
enum am_acct_free_res {
	AM_ACCT_UNKNOWN = 0,     /* not a pointer it holds (or one returned after the free began,
	                            with no earlier incarnation): nothing changed */
	AM_ACCT_FREED,           /* removed; *out is what was removed */
	AM_ACCT_DISPLACED,       /* the free began before the call that returned this pointer
	                            ended: it freed the incarnation that call displaced, already
	                            taken off; out->size and out->region are that one's */
};

/* Returns NULL on allocation failure. */
struct am_acct *am_acct_new(void);
/* Accepts NULL. */
void am_acct_free_all(struct am_acct *a);
const struct am_acct_figs *am_acct_figs(const struct am_acct *a);
/* An allocation failed inside the model: some state was dropped and the
 * figures may be off. */
bool am_acct_oom(const struct am_acct *a);

/* The state of process pid, made on first use; NULL on allocation failure
 * (then am_acct_oom). The pointer stays valid until am_acct_free_all. */
struct am_acct_proc *am_acct_proc(struct am_acct *a, uint32_t pid);

/* A mapping that was there before the trace (/proc/PID/maps): kind
 * AM_REG_HEAP is the brk heap [start, end); any other kind a range,
 * accessible or not (its permissions are ---p). */
void am_acct_seed(struct am_acct *a, struct am_acct_proc *p, uint64_t start, uint64_t end,
		  enum am_region_kind kind, bool accessible);

/* One memory syscall as the BPF side recorded it (sys, args, ret).
 * by_alloc: made inside an allocator call. kind: for mmap and mremap, what
 * the new mapping is (the record's "region"; AM_REG_HEAP for an mmap inside
 * the brk heap, which changes nothing here); AM_REG_UNKNOWN for an mremap
 * means: what the old range was (preexisting becomes mmap when by_alloc),
 * or mmap/direct by by_alloc when it was not in the map. */
void am_acct_os(struct am_acct *a, struct am_acct_proc *p, const struct am_os_event *ev,
		bool by_alloc, enum am_region_kind kind);

/* exec: the process's old image is gone. */
void am_acct_exec(struct am_acct *a, struct am_acct_proc *p);

/* Does an outermost call free its input pointer? role of the function,
 * ptr_in its input pointer (0 for none), result_valid: its return was seen,
 * ptr_out its result, size its requested size. free always does; realloc
 * when it returned an allocation, or was realloc(p, 0). */
bool am_acct_call_frees(enum am_role role, uint64_t ptr_in, bool result_valid,
			uint64_t ptr_out, uint64_t size);

/* A free, begun at ts_enter, of ptr (see enum am_acct_free_res). */
enum am_acct_free_res am_acct_free(struct am_acct *a, struct am_acct_proc *p, uint64_t ptr,
				   uint64_t ts_enter, struct am_acct_live *out);

/* An outermost call returned ptr (size bytes) at ts_end. A pointer already
 * live is an incarnation whose free was not seen (yet): it is displaced
 * (taken off, remembered in prev_*). Returns the entry, its call_id, stack
 * and region to be filled by the caller, or NULL on allocation failure. */
struct am_acct_live *am_acct_alloc(struct am_acct *a, struct am_acct_proc *p, uint64_t ptr,
				   uint64_t size, uint64_t ts_end);

/* The live entry of ptr, or NULL (a look, no change: nested calls). */
struct am_acct_live *am_acct_find(struct am_acct_proc *p, uint64_t ptr);

/* Walks p's live allocations: the next one at or after slot *i (which is
 * advanced past it), or NULL at the end. Start with *i = 0. */
const struct am_acct_live *am_acct_next(const struct am_acct_proc *p, size_t *i);
uint32_t am_acct_pid(const struct am_acct_proc *p);

/* Accessible bytes of p's map in [start, end), all kinds. */
uint64_t am_acct_accessible(const struct am_acct_proc *p, uint64_t start, uint64_t end);
/* The accessible parts of [start, end), adjacent pages merged, in address
 * order: the first max of them into out[i][0..1] ([from, to)); returns how
 * many there are (more than max: the rest were not written). */
size_t am_acct_accessible_ranges(const struct am_acct_proc *p, uint64_t start, uint64_t end,
				 uint64_t (*out)[2], size_t max);

#endif /* ALLOCMAP_MEMACCT_H */
