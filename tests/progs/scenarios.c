// SPDX-License-Identifier: GPL-2.0
/* scenarios.c - the target program of allocmap's end-to-end tests and of
 * scripts/bench: each scenario makes a known sequence of allocator calls and
 * memory syscalls, so a test can assert exact sizes, pointers and causes.
 *
 *   scenarios [-l LOGFILE] SCENARIO [ARGS]
 *
 * With -l, every allocator call the scenario makes is logged to LOGFILE as
 *   "STEP fn=malloc size=N ptr=0x0 ret=0x55d0c1a2b2a0"
 * (ptr = input pointer of realloc/free, ret = result) and every direct
 * mapping as "STEP fn=mmap size=N ret=0x...". The log is written with
 * snprintf into a stack buffer and write(2): stdio would malloc its own
 * buffers and perturb the very heap the test is looking at.
 *
 * Nothing goes to stdout. Scenarios (sizes are what glibc 2.36 does):
 *   heap_small      malloc(100) -> brk(NULL)+brk(+132 KiB); malloc(200), malloc(100000)
 *                   fit; malloc(100000) again does not fit -> brk grows the heap
 *   mmap_128k       malloc(100) -> brk; malloc(131072) fits the top chunk (no syscall);
 *                   a second malloc(131072) does not -> mmap(135168); its free -> munmap
 *   dyn_threshold   malloc(100); malloc(1 MiB) -> mmap(1052672); free -> munmap and the
 *                   threshold rises 131072 -> 1052672; malloc(262144) -> heap, one brk
 *   realloc_mremap  malloc(200000) -> mmap(200704); realloc to 400000 -> mremap to 401408;
 *                   free -> munmap(401408)
 *   calloc          calloc(10,100) -> brk; calloc(50,4000) -> mmap(200704); frees
 *   thread_arena    malloc(100) in main; a thread (stack: mmap MAP_STACK + mprotect,
 *                   direct) mallocs 100 -> arena mmap(128 MiB) + munmap + mprotect
 *   direct_mmap     the program's own mmap(65536) and munmap, no allocator involved
 *   aligned         posix_memalign(64,1000), aligned_alloc(4096,8192), memalign(256,300000)
 *                   (mmap), valloc(5000), pvalloc(5000), reallocarray(NULL,10,100) then
 *                   to 20x100, and their frees; log lines carry align=/nmemb=/rc=
 *   big_alloc       malloc(64 MiB) and free: glibc mmap(67112960)+munmap; under
 *                   jemalloc a new extent mapping made inside that malloc
 *   churn N         N malloc/free pairs of random 16..1040 B; prints
 *                   "churn: N pairs, T ns, X ns/pair, C cpu ns/pair" to stderr (loop
 *                   timed alone; C: the thread's CPU time, uprobe handlers included)
 *   wait_then SCEN [ARGS]  print "pid=N" to stderr, wait for SIGUSR1 or a line on
 *                   stdin, then run SCEN (for attach-mode tests)
 *   exit_soon [MS]  sleep MS milliseconds (default 5) and exit 0
 *   slow_loop [N]   every 100 ms: malloc(200000) (over the 128 KiB threshold: mmap, unless
 *                   the threshold moved), malloc(1000) kept (the last 600 are kept: live
 *                   bytes grow for 60 s), sleep, free(200000 B block); N rounds, 0 or none =
 *                   until killed (for `allocmap top` tests) */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;   /* -l LOGFILE, or -1: no log */

/* Write one formatted line to fd without touching malloc. */
static void fdline(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fdline(int fd, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	if (fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(fd, buf, n) < 0) {
		/* nothing sensible to do: the test will notice the missing line */
	}
}

static void logc(const char *step, const char *fn, size_t size, void *ptr, void *ret)
{
	fdline(log_fd, "%s fn=%s size=%zu ptr=%p ret=%p", step, fn, size, ptr, ret);
}

/* Allocator wrappers: make the call, then log it. */
static void *xmalloc(const char *step, size_t n)
{
	void *p = malloc(n);
	logc(step, "malloc", n, NULL, p);
	return p;
}

static void *xcalloc(const char *step, size_t nmemb, size_t n)
{
	void *p = calloc(nmemb, n);
	logc(step, "calloc", nmemb * n, NULL, p);
	return p;
}

static void *xrealloc(const char *step, void *old, size_t n)
{
	uintptr_t o = (uintptr_t)old;          /* printed after the call: keep it as a number */
	void *p = realloc(old, n);
	logc(step, "realloc", n, (void *)o, p);
	return p;
}

static void xfree(const char *step, void *p)
{
	free(p);
	logc(step, "free", 0, p, NULL);
}

/* Touch every page so the memory is really used (and the compiler keeps it). */
static void touch(void *p, size_t n)
{
	volatile char *c = p;
	for (size_t i = 0; i < n; i += 4096)
		c[i] = 1;
	if (n)
		c[n - 1] = 1;
}

static int sc_heap_small(void)
{
	/* The first call creates the main arena's heap: brk(NULL) learns the
	 * break, brk(+132 KiB) = request + M_TOP_PAD (128 KiB), page-rounded. */
	char *a = xmalloc("small1", 100);
	char *b = xmalloc("small2", 200);       /* carved from the top chunk */
	char *c = xmalloc("fit100k", 100000);   /* still fits the ~132 KiB top chunk */
	char *d = xmalloc("grow100k", 100000);  /* does not: under threshold -> brk grows */
	touch(a, 100); touch(b, 200); touch(c, 100000); touch(d, 100000);
	xfree("free_d", d);
	xfree("free_c", c);
	xfree("free_b", b);
	xfree("free_a", a);
	return 0;
}

static int sc_mmap_128k(void)
{
	/* A 128 KiB request is at the mmap threshold, but the threshold is
	 * consulted only when the top chunk cannot hold the request. */
	char *a = xmalloc("small1", 100);            /* heap: top chunk ~132 KiB */
	char *b = xmalloc("fit128k", 131072);        /* fits the top chunk: heap, no syscall */
	char *c = xmalloc("mmap128k", 131072);       /* does not fit: mmap(135168) */
	touch(b, 131072); touch(c, 131072);
	xfree("free_mmap128k", c);                    /* munmap(135168); threshold -> 135168 */
	xfree("free_fit128k", b);
	xfree("free_small1", a);
	return 0;
}

static int sc_dyn_threshold(void)
{
	char *a = xmalloc("small1", 100);            /* heap exists: brk */
	char *m = xmalloc("mmap1m", 1 << 20);        /* over threshold: mmap(1052672) */
	touch(m, 1 << 20);
	/* Freeing an mmapped chunk of size S <= 32 MiB raises the mmap
	 * threshold to S and the trim threshold to 2*S. */
	xfree("free_mmap1m", m);                      /* munmap; threshold 131072 -> 1052672 */
	char *h = xmalloc("heap256k", 262144);       /* now under threshold: heap, one brk */
	touch(h, 262144);
	xfree("free_heap256k", h);                    /* below the 2 MiB trim threshold: no brk */
	xfree("free_small1", a);
	return 0;
}

static int sc_realloc_mremap(void)
{
	char *p = xmalloc("mmap200k", 200000);       /* mmap(200704) */
	touch(p, 200000);
	/* realloc of an mmapped chunk resizes the mapping in place or moves it:
	 * mremap(old, 204800, 401408, MREMAP_MAYMOVE), no malloc+copy. */
	char *q = xrealloc("mremap400k", p, 400000);
	touch(q, 400000);
	xfree("free_mremap400k", q);                  /* munmap(401408) */
	return 0;
}

static int sc_calloc(void)
{
	char *a = xcalloc("calloc_small", 10, 100);    /* heap: brk(NULL)+brk */
	char *b = xcalloc("calloc_mmap", 50, 4000);    /* 200000 B: mmap(200704), already zero */
	touch(a, 1000); touch(b, 200000);
	xfree("free_calloc_mmap", b);                   /* munmap(200704) */
	xfree("free_calloc_small", a);
	return 0;
}

static void *arena_thread(void *arg)
{
	(void)arg;
	/* A thread's first malloc gets an arena of its own: a 64 MiB-aligned
	 * heap reserved with mmap(128 MiB, PROT_NONE, MAP_NORESERVE), the
	 * unaligned part munmapped, the used part mprotect'ed read/write. */
	char *p = xmalloc("thread_malloc", 100);
	touch(p, 100);
	xfree("thread_free", p);
	return NULL;
}

static int sc_thread_arena(void)
{
	pthread_t t;
	char *a = xmalloc("main_malloc", 100);       /* main arena: brk */
	touch(a, 100);
	/* pthread_create maps the thread's stack itself (mmap MAP_STACK, then
	 * mprotect of the guard): direct, not caused by an allocator call. */
	if (pthread_create(&t, NULL, arena_thread, NULL) != 0)
		return 1;
	pthread_join(t, NULL);
	xfree("main_free", a);
	return 0;
}

static int sc_direct_mmap(void)
{
	size_t len = 65536;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	fdline(log_fd, "direct_mmap fn=mmap size=%zu ptr=%p ret=%p", len, (void *)0, p);
	touch(p, len);
	munmap(p, len);
	fdline(log_fd, "direct_munmap fn=munmap size=%zu ptr=%p ret=%p", len, p, (void *)0);
	return 0;
}

/* A direct mapping made one call deeper than the free before it: free is
 * traced without a return probe, so this checks that its end is inferred
 * right (the mmap/munmap here must be direct, not caused by the free). */
static __attribute__((noinline)) int map_deeper(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return 1;
	touch(p, len);
	return munmap(p, len);
}

static int sc_free_then_direct(void)
{
	char *big = malloc(300000);  /* mmap(303104) */
	char *small = malloc(100);   /* first heap use: brk */

	if (!big || !small)
		return 1;
	touch(big, 300000);
	free(big);                   /* munmap(303104), caused by this free */
	if (map_deeper(40960))       /* direct mmap + munmap, deeper than free was */
		return 1;
	free(small);                 /* no syscall */
	{
		/* same level as a free: a direct mmap right after it */
		void *p = mmap(NULL, 20480, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return 1;
		munmap(p, 20480);
	}
	return 0;
}

static int sc_aligned(void)
{
	void *p = NULL, *a, *m, *v, *pv, *r;
	uintptr_t r0;
	int rc;

	xfree("free_small", xmalloc("small", 100));          /* heap exists: brk */
	rc = posix_memalign(&p, 64, 1000);
	fdline(log_fd, "posix_memalign fn=posix_memalign size=1000 align=64 rc=%d ptr=%p ret=%p",
	       rc, (void *)0, p);
	a = aligned_alloc(4096, 8192);
	fdline(log_fd, "aligned_alloc fn=aligned_alloc size=8192 align=4096 ptr=%p ret=%p", (void *)0, a);
	/* 300000 B aligned to 256: over the threshold, from its own mmap */
	m = memalign(256, 300000);
	fdline(log_fd, "memalign fn=memalign size=300000 align=256 ptr=%p ret=%p", (void *)0, m);
	v = valloc(5000);
	fdline(log_fd, "valloc fn=valloc size=5000 ptr=%p ret=%p", (void *)0, v);
	pv = pvalloc(5000);                                    /* rounds up to 8192 */
	fdline(log_fd, "pvalloc fn=pvalloc size=5000 ptr=%p ret=%p", (void *)0, pv);
	r = reallocarray(NULL, 10, 100);                       /* = malloc(1000) */
	fdline(log_fd, "reallocarray fn=reallocarray size=1000 nmemb=10 ptr=%p ret=%p", (void *)0, r);
	r0 = (uintptr_t)r;                     /* printed after the call: keep it as a number */
	r = reallocarray(r, 20, 100);                          /* grows in place */
	fdline(log_fd, "reallocarray2 fn=reallocarray size=2000 nmemb=20 ptr=%#lx ret=%p",
	       (unsigned long)r0, r);
	xfree("free_reallocarray", r);
	xfree("free_pvalloc", pv);
	xfree("free_valloc", v);
	xfree("free_memalign", m);                             /* munmap */
	xfree("free_aligned_alloc", a);
	xfree("free_posix_memalign", p);
	return rc;
}

static int sc_big_alloc(void)
{
	/* 64 MiB: glibc -> mmap(64 MiB + 4 KiB); jemalloc (whose start-up
	 * extents are far smaller) must map a new extent for it. */
	size_t n = (size_t)64 << 20;
	char *p = xmalloc("big64m", n);
	if (!p)
		return 1;
	p[0] = 1;
	xfree("free_big64m", p);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int sc_churn(long n)
{
	/* xorshift64: deterministic sizes without libc's rand() state. */
	uint64_t x = 0x9e3779b97f4a7c15ull;
	volatile uintptr_t sink = 0;
	uint64_t t0, t1, cpu;
	struct timespec c0, c1;

	if (n < 0)
		return 2;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		size_t sz = 16 + (size_t)(x % 1025);   /* 16..1040 */
		char *p = malloc(sz);
		p[0] = (char)i;                        /* malloc must not be elided */
		sink ^= (uintptr_t)p;
		free(p);
	}
	t1 = now_ns();
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	cpu = (uint64_t)(c1.tv_sec - c0.tv_sec) * 1000000000ull + (uint64_t)c1.tv_nsec - (uint64_t)c0.tv_nsec;
	fdline(2, "churn: %ld pairs, %llu ns, %.1f ns/pair, %.1f cpu ns/pair", n,
	       (unsigned long long)(t1 - t0), n ? (double)(t1 - t0) / n : 0.0, n ? (double)cpu / n : 0.0);
	return 0;
}

static int sc_slow_loop(long n)
{
	static char *kept[600];   /* the small blocks still live, oldest first freed */
	struct timespec ts = { 0, 100 * 1000000L };

	for (long i = 0; n <= 0 || i < n; i++) {
		char *big = malloc(200000);
		char **slot = &kept[i % 600];

		if (!big)
			return 1;
		touch(big, 200000);
		free(*slot);
		*slot = malloc(1000);
		if (*slot)
			touch(*slot, 1000);
		nanosleep(&ts, NULL);
		free(big);
	}
	return 0;
}

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }

/* Wait for SIGUSR1 or one line on stdin, whichever comes first. SIGUSR1 is
 * blocked except inside ppoll, so a signal sent before we wait is not lost. */
static void wait_go(void)
{
	struct sigaction sa;
	sigset_t block, orig;
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	int stdin_open = 1;
	char c;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;      /* no SA_RESTART: let ppoll return EINTR */
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &orig);
	fdline(2, "pid=%d", (int)getpid());
	while (!got_usr1) {
		int r = ppoll(stdin_open ? &pfd : NULL, stdin_open ? 1 : 0, NULL, &orig);
		if (r > 0) {
			ssize_t k = read(0, &c, 1);
			if (k <= 0) {
				stdin_open = 0;       /* EOF or error: wait for the signal only */
				continue;
			}
			if (c == '\n')
				break;
		}
	}
	sigprocmask(SIG_SETMASK, &orig, NULL);
}

static int run(int argc, char **argv);

static int usage(void)
{
	fdline(2, "usage: scenarios [-l LOGFILE] heap_small|mmap_128k|dyn_threshold|realloc_mremap|"
	       "calloc|thread_arena|direct_mmap|big_alloc|aligned|churn N|wait_then SCENARIO|exit_soon [MS]|"
	       "slow_loop [N]|free_then_direct");
	return 2;
}

static int run(int argc, char **argv)
{
	const char *s;

	if (argc < 1)
		return usage();
	s = argv[0];
	if (!strcmp(s, "heap_small"))     return sc_heap_small();
	if (!strcmp(s, "mmap_128k"))      return sc_mmap_128k();
	if (!strcmp(s, "dyn_threshold"))  return sc_dyn_threshold();
	if (!strcmp(s, "realloc_mremap")) return sc_realloc_mremap();
	if (!strcmp(s, "calloc"))         return sc_calloc();
	if (!strcmp(s, "thread_arena"))   return sc_thread_arena();
	if (!strcmp(s, "direct_mmap"))    return sc_direct_mmap();
	if (!strcmp(s, "big_alloc"))      return sc_big_alloc();
	if (!strcmp(s, "aligned"))        return sc_aligned();
	if (!strcmp(s, "free_then_direct")) return sc_free_then_direct();
	if (!strcmp(s, "churn"))
		return sc_churn(argc > 1 ? strtol(argv[1], NULL, 10) : 1000000);
	if (!strcmp(s, "slow_loop"))
		return sc_slow_loop(argc > 1 ? strtol(argv[1], NULL, 10) : 0);
	if (!strcmp(s, "exit_soon")) {
		long ms = argc > 1 ? strtol(argv[1], NULL, 10) : 5;
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		return 0;
	}
	if (!strcmp(s, "wait_then")) {
		wait_go();
		return run(argc - 1, argv + 1);
	}
	return usage();
}

int main(int argc, char **argv)
{
	int i = 1;

	if (argc > 2 && !strcmp(argv[1], "-l")) {
		log_fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (log_fd < 0) {
			fdline(2, "scenarios: cannot open %s: %s", argv[2], strerror(errno));
			return 2;
		}
		i = 3;
	}
	return run(argc - i, argv + i);
}
