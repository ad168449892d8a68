// SPDX-License-Identifier: GPL-2.0
/* unwind.c - DWARF unwinding and symbolization of BPF stack records with
 * elfutils libdwfl (unwind.h).
 *
 * One Dwfl per traced process, its modules reported from our own copy of
 * the process's file mappings (merged /proc/PID/maps snapshots, so that a
 * process that exited still has a layout), with dwfl_attach_state callbacks
 * that serve memory from the stack copy of the record being unwound and the
 * initial registers from the record: the same Dwfl unwinds every stack of
 * that process, one record at a time. Each process also caches pc ->
 * symbol/line, since the same few hundred return addresses recur in
 * millions of stacks. ELF handles are shared between processes through
 * libelf's reference counting (elf_begin with a reference descriptor), so
 * an object is opened and read once per run. All strings (symbols, object
 * names, source files) are interned here and live until am_unw__free;
 * C++/Rust symbols are demangled once each.
 *
 * What makes --stacks cheap: once an unwind of a full copy reaches a
 * thread's outermost frame, the highest stack word it read is written to
 * the BPF map stack_tops (learn_top), and that thread's later records copy
 * only up to there (AM_SEV_WHOLE); and each process remembers its DWARF
 * unwinds (struct memo), so a call path seen before is not unwound again. */
#include <bpf/bpf.h>
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "strtab.h"
#include "unwind.h"
#include "unwind_arch.h"
#include "demangle.h"
#include "proc.h"
#include "safeio.h"

#define REFRESH_GAP_NS (1000000ULL) /* re-read a live process's maps at most this often on a miss */
#define AM_TOP_MARGIN  64 /* bytes copied past the highest word a whole unwind read */

/* One file-backed mapping of a process. */
struct mapent {
	uint64_t seen;           /* monotonic ns of the latest snapshot that had it */
	uint64_t start, end, off, ino;
	unsigned maj, mnr;
	char perms[5];
	char *path;
};

/* Cached symbolization of one lookup address. key 0 = empty slot. */
struct pcent {
	uint64_t key;            /* lookup address (pc, or pc - 1 for return addresses) */
	uint64_t symstart;       /* 0 = no symbol */
	uint64_t bias;           /* module bias (obj-relative address = addr - bias) */
	const char *sym, *mangled, *obj, *file;
	const char *build_id;    /* the module's, hex */
	uint32_t line;
};

/* A symbol's demangled name (demangle.h): key and val interned; val ==
 * key when the symbol is not mangled. key NULL = empty slot. */
struct dment {
	const char *key, *val;
};

struct uproc {
	uint32_t pid;
	Dwfl *dwfl;
	bool reported;           /* dwfl modules match m[] */
	bool attached;           /* dwfl_attach_state done */
	struct mapent *m;        /* sorted by start, non-overlapping */
	size_t n, cap;
	struct pcent *pc;        /* open addressing, pc_cap slots */
	size_t pc_n, pc_cap;
	uint64_t last_refresh;   /* monotonic ns */
	bool gone;               /* its /proc/PID/maps could not be read: exited */
	struct memo **memo;      /* DWARF unwinds already done, MEMO_SLOTS, direct-mapped */
};

/* One stack word the DWARF unwinder asked for, and what it got. */
struct rd {
	uint64_t addr, val;
	bool ok;                 /* false: the read failed (outside the copy) */
};

#define TOLD       256           /* stack tops remembered as told (learn_top) */
#define MAX_READS  128           /* an unwind reading more is not remembered */
#define MEMO_SLOTS 1024          /* remembered unwinds per process */

/* A remembered DWARF unwind. The unwinder is a function of the initial
 * registers, the memory it reads and the module layout: a record with the
 * same ip, sp and bp whose copy holds the same words at the addresses this
 * unwind read unwinds to the same pcs, without libdwfl (the same call path
 * at the same depth: the common case by far). Dropped when the layout
 * changes. */
struct memo {
	uint64_t ip, sp, bp;
	bool bp_matters;         /* bp may have steered the unwind (bp_matters()) */
	bool ends;               /* the copy ends the stack (copy_short or AM_SEV_WHOLE) */
	bool complete;           /* dwarf_unwind's result */
	bool ended, read_failed;
	uint32_t n_reads, n;
	uint64_t max_read;
	struct rd *reads;        /* [n_reads], then the pcs */
	uint64_t *pcs;           /* [n] */
};

struct elfent {
	dev_t dev;
	ino_t ino;
	int fd;
	Elf *elf;
};

/* A /proc/PID/maps snapshot taken by another thread (am_unw__snapshot). */
struct snap {
	struct snap *next;
	uint32_t pid;
	uint64_t ts;
	size_t len;
	char text[];
};

struct am_unw {
	enum am_unwind_mode mode;
	pthread_mutex_t lock;    /* guards snaps only */
	struct snap *snaps, **snaps_tail;
	struct uproc **procs;
	size_t n_procs, cap_procs;
	struct am_strtab strs;   /* interned strings */
	struct elfent *elfs;
	size_t n_elfs, cap_elfs;
	struct dment *dm;        /* demangled names, open addressing */
	size_t n_dm, cap_dm;
	int tops_fd;             /* BPF map stack_tops, -1 = none */
	struct told {            /* what was last written there, by tid % TOLD */
		uint32_t tid;
		struct am_stack_top t;
	} told[TOLD];
	struct am_unw_stats st;
};

/* The record being unwound and the process it belongs to: the libdwfl
 * callbacks have no argument of their own for find_elf, and the consumer is
 * single-threaded. */
struct uctx {
	struct am_unw *u;
	struct uproc *p;
	const struct am_stack_event *e;
	const uint8_t *data;
	size_t len;
	uint64_t pcs[AM_UNW_MAX_FRAMES];
	size_t n;
	bool ended;              /* a zero return address: the outermost frame */
	bool copy_short;         /* the copy reached the top of the stack */
	bool whole;              /* AM_SEV_WHOLE: the copy ends at the thread's stack top */
	uint64_t max_read;       /* highest stack word read, + 8 (0: none) */
	struct rd reads[MAX_READS]; /* the words read, in order */
	uint32_t n_reads;
	bool reads_over;         /* more than MAX_READS */
	bool read_failed;        /* a read fell outside the copy: libdwfl takes a return
				    address it cannot read for the outermost frame's */
};
static __thread struct uctx *cur; /* per thread: serve runs a tracer (and its unwinder) per target thread */

/* The one copy of s that lives until am_unw__free; NULL stays NULL. */
static const char *intern(struct am_unw *u, const char *s)
{
	return am_strtab_intern(&u->strs, s);
}

/* The demangled name of the interned symbol sym (itself when it is not
 * mangled), demangled once per run: a symbol recurs at many addresses and
 * in every process that maps its object. */
static const char *demangled(struct am_unw *u, const char *sym)
{
	size_t j;
	char *dm;

	if (!sym || sym[0] != '_' || (sym[1] != 'Z' && sym[1] != 'R'))
		return sym;
	if ((u->n_dm + 1) * 2 > u->cap_dm) {
		size_t nc = u->cap_dm ? u->cap_dm * 2 : 256;
		struct dment *nd = calloc(nc, sizeof(*nd));

		if (!nd)
			return sym;
		for (size_t i = 0; i < u->cap_dm; i++) {
			if (!u->dm[i].key)
				continue;
			for (j = am_str_hash(u->dm[i].key) & (nc - 1); nd[j].key; j = (j + 1) & (nc - 1))
				;
			nd[j] = u->dm[i];
		}
		free(u->dm);
		u->dm = nd;
		u->cap_dm = nc;
	}
	/* interned: the same name is the same pointer */
	for (j = am_str_hash(sym) & (u->cap_dm - 1); u->dm[j].key; j = (j + 1) & (u->cap_dm - 1))
		if (u->dm[j].key == sym)
			return u->dm[j].val;
	dm = am_demangle(sym);
	u->dm[j].key = sym;
	u->dm[j].val = dm ? intern(u, dm) : sym;
	if (!u->dm[j].val)
		u->dm[j].val = sym;
	u->n_dm++;
	free(dm);
	return u->dm[j].val;
}

/* ---------- libdwfl callbacks ---------- */

/* Opens a module's file through /proc/PID/root (other mount namespaces),
 * else by its path, and hands libdwfl a shared reference to the one Elf
 * handle of that file (dev, inode). */
static int cb_find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
		       char **file_name, Elf **elfp)
{
	struct am_unw *u = cur ? cur->u : NULL;
	char path[4096];
	struct stat st;
	int fd = -1;

	(void)mod;
	(void)userdata;
	(void)base;
	if (!u || !modname || modname[0] != '/')
		return -1;
	if (cur->p) {
		snprintf(path, sizeof(path), "/proc/%u/root%s", cur->p->pid, modname);
		fd = am_open_target(path, false);
	}
	if (fd < 0)
		fd = am_open_target(modname, false);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (size_t i = 0; i < u->n_elfs; i++) {
		if (u->elfs[i].dev == st.st_dev && u->elfs[i].ino == st.st_ino) {
			close(fd);
			*elfp = elf_begin(-1, ELF_C_READ_MMAP, u->elfs[i].elf);
			*file_name = strdup(modname);
			return -1;
		}
	}
	if (u->n_elfs == u->cap_elfs) {
		size_t nc = u->cap_elfs ? u->cap_elfs * 2 : 32;
		struct elfent *ne = realloc(u->elfs, nc * sizeof(*ne));

		if (!ne) {
			close(fd);
			return -1;
		}
		u->elfs = ne;
		u->cap_elfs = nc;
	}
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		close(fd);
		return -1;
	}
	u->elfs[u->n_elfs++] = (struct elfent){ .dev = st.st_dev, .ino = st.st_ino, .fd = fd, .elf = elf };
	*elfp = elf_begin(-1, ELF_C_READ_MMAP, elf);
	*file_name = strdup(modname);
	return -1;
}

/* Separate debug info only from root's /usr/lib/debug (by build id, or by
 * the module's path under it), never from beside the module: a target names
 * that directory, and may have put a FIFO there under the debuglink name. */
static char *debuginfo_path = "/usr/lib/debug";
static const Dwfl_Callbacks dwfl_cbs = {
	.find_elf = cb_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

static pid_t cb_next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	(void)dwfl;
	(void)arg;
	if (*thread_argp || !cur || !cur->e)
		return 0;
	*thread_argp = cur;
	return (pid_t)cur->e->tid;
}

static bool cb_get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	(void)dwfl;
	(void)arg;
	(void)tid;
	*thread_argp = cur;
	return cur && cur->e;
}

/* Only the captured copy of the stack is readable; the return addresses
 * our uretprobes replaced with their trampoline read as the real ones. */
static bool stack_word(const struct uctx *c, uint64_t addr, uint64_t *result)
{
	if (!c->e || addr < c->e->sp || addr - c->e->sp + 8 > c->len)
		return false;
	for (uint32_t i = 0; i < c->e->n_ret && i < AM_MAX_DEPTH; i++)
		if (addr == c->e->ret_sp[i] && c->e->ret_ip[i]) {
			*result = c->e->ret_ip[i];
			return true;
		}
	memcpy(result, c->data + (addr - c->e->sp), 8);
	return true;
}

/* Each word read is remembered (struct memo), and the highest one: what the
 * unwind of the whole stack needed (am_stack_top). */
static bool cb_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	uint64_t v = 0;
	bool ok;

	(void)dwfl;
	(void)arg;
	if (!cur)
		return false;
	ok = stack_word(cur, addr, &v);
	if (cur->n_reads < MAX_READS)
		cur->reads[cur->n_reads++] = (struct rd){ .addr = addr, .val = v, .ok = ok };
	else
		cur->reads_over = true;
	if (!ok) {
		cur->read_failed = true;
		return false;
	}
	if (addr + 8 > cur->max_read)
		cur->max_read = addr + 8;
	*result = v;
	return true;
}

/* The record's ip, sp and frame pointer, as the architecture's DWARF
 * registers (unwind_arch.h). */
static bool cb_set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	struct uctx *c = thread_arg;

	if (!c || !c->e)
		return false;
	return am_unw_arch_initial_regs(thread, c->e);
}

static const Dwfl_Thread_Callbacks thread_cbs = {
	.next_thread = cb_next_thread,
	.get_thread = cb_get_thread,
	.memory_read = cb_memory_read,
	.set_initial_registers = cb_set_initial_registers,
};

/* ---------- processes and their maps ---------- */

static void memo_clear(struct uproc *p)
{
	if (!p->memo)
		return;
	for (size_t i = 0; i < MEMO_SLOTS; i++) {
		free(p->memo[i]);
		p->memo[i] = NULL;
	}
}

static void proc_free(struct uproc *p)
{
	if (!p)
		return;
	memo_clear(p);
	free(p->memo);
	if (p->dwfl)
		dwfl_end(p->dwfl);
	for (size_t i = 0; i < p->n; i++)
		free(p->m[i].path);
	free(p->m);
	free(p->pc);
	free(p);
}

static struct uproc *proc_get(struct am_unw *u, uint32_t pid)
{
	struct uproc *p;

	for (size_t i = 0; i < u->n_procs; i++)
		if (u->procs[i]->pid == pid)
			return u->procs[i];
	if (u->n_procs == u->cap_procs) {
		size_t nc = u->cap_procs ? u->cap_procs * 2 : 16;
		struct uproc **np = realloc(u->procs, nc * sizeof(*np));

		if (!np)
			return NULL;
		u->procs = np;
		u->cap_procs = nc;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	u->procs[u->n_procs++] = p;
	return p;
}

/* Put mapping e in p->m, replacing what it overlaps. Takes e->path. */
static void map_put(struct uproc *p, struct mapent *e)
{
	size_t i = 0, w = 0;

	for (i = 0; i < p->n; i++) {
		if (p->m[i].start < e->end && e->start < p->m[i].end) {
			free(p->m[i].path);
			continue;
		}
		p->m[w++] = p->m[i];
	}
	p->n = w;
	if (p->n == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 64;
		struct mapent *nm = realloc(p->m, nc * sizeof(*nm));

		if (!nm) {
			free(e->path);
			return;
		}
		p->m = nm;
		p->cap = nc;
	}
	for (i = p->n; i > 0 && p->m[i - 1].start > e->start; i--)
		p->m[i] = p->m[i - 1];
	p->m[i] = *e;
	p->n++;
}

/* Merge maps text f, taken at time ts, into p. True when anything changed. */
static bool merge_maps(struct uproc *p, FILE *f, uint64_t ts)
{
	char *line = NULL;
	size_t cap = 0;
	bool changed = false;

	while (getline(&line, &cap, f) > 0) {
		struct mapent e = { 0 };
		unsigned long long s, en, off, ino;
		int pos = -1;
		char *name;
		size_t k;

		if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &s, &en, e.perms, &off, &e.maj,
			   &e.mnr, &ino, &pos) < 7 || pos < 0)
			continue;
		name = line + pos;
		k = strlen(name);
		while (k && (name[k - 1] == '\n' || name[k - 1] == ' '))
			name[--k] = '\0';
		if (name[0] != '/' || (k > 10 && !strcmp(name + k - 10, " (deleted)")))
			continue;
		e.seen = ts;
		e.start = s;
		e.end = en;
		e.off = off;
		e.ino = ino;
		bool known = false;
		for (size_t i = 0; i < p->n; i++)
			if (p->m[i].start == s && p->m[i].end == en && p->m[i].ino == ino &&
			    !strcmp(p->m[i].path, name)) {
				known = true;
				if (ts > p->m[i].seen)
					p->m[i].seen = ts;
				break;
			}
		if (known)
			continue;
		e.path = strdup(name);
		if (!e.path)
			continue;
		map_put(p, &e);
		changed = true;
	}
	free(line);
	if (changed)
		p->reported = false;
	return changed;
}

/* Merge the current /proc/PID/maps of p. */
static void read_maps(struct uproc *p)
{
	char path[64];
	FILE *f;

	p->last_refresh = am_now_ns();
	snprintf(path, sizeof(path), "/proc/%u/maps", p->pid);
	f = fopen(path, "re");
	if (!f) {
		p->gone = true;
		return;
	}
	if (fgetc(f) == EOF)
		p->gone = true; /* a zombie has no maps any more */
	rewind(f);
	merge_maps(p, f, p->last_refresh);
	fclose(f);
}

/* Merge the snapshots other threads took. */
static void drain(struct am_unw *u)
{
	struct snap *s;

	pthread_mutex_lock(&u->lock);
	s = u->snaps;
	u->snaps = NULL;
	u->snaps_tail = &u->snaps;
	pthread_mutex_unlock(&u->lock);
	while (s) {
		struct snap *next = s->next;
		struct uproc *p = proc_get(u, s->pid);
		FILE *f = s->len ? fmemopen(s->text, s->len, "r") : NULL;

		if (p && f)
			merge_maps(p, f, s->ts);
		if (f)
			fclose(f);
		free(s);
		s = next;
	}
}

/* Report p->m to p's Dwfl (created on first use). */
static bool report(struct uproc *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (p->reported && p->dwfl)
		return true;
	if (!p->dwfl) {
		p->dwfl = dwfl_begin(&dwfl_cbs);
		if (!p->dwfl)
			return false;
	}
	f = open_memstream(&buf, &len);
	if (!f)
		return false;
	for (size_t i = 0; i < p->n; i++)
		fprintf(f, "%llx-%llx %s %llx %02x:%02x %llu %s\n", (unsigned long long)p->m[i].start,
			(unsigned long long)p->m[i].end, p->m[i].perms, (unsigned long long)p->m[i].off,
			p->m[i].maj, p->m[i].mnr, (unsigned long long)p->m[i].ino, p->m[i].path);
	fclose(f);
	f = fmemopen(buf, len ? len : 1, "r");
	if (!f) {
		free(buf);
		return false;
	}
	dwfl_report_begin(p->dwfl);
	if (len)
		dwfl_linux_proc_maps_report(p->dwfl, f);
	dwfl_report_end(p->dwfl, NULL, NULL);
	fclose(f);
	free(buf);
	p->reported = true;
	/* symbols may have moved with the new layout, and unwinds changed */
	if (p->pc)
		memset(p->pc, 0, p->pc_cap * sizeof(*p->pc));
	p->pc_n = 0;
	memo_clear(p);
	return true;
}

static bool covered(const struct uproc *p, uint64_t addr)
{
	for (size_t i = 0; i < p->n; i++)
		if (addr >= p->m[i].start && addr < p->m[i].end)
			return true;
	return false;
}

/* addr is in an executable file mapping: a plausible return address. */
static bool code(const struct uproc *p, uint64_t addr)
{
	for (size_t i = 0; i < p->n; i++)
		if (addr >= p->m[i].start && addr < p->m[i].end)
			return p->m[i].perms[2] == 'x';
	return false;
}

/* ---------- symbols ---------- */

static struct pcent *pc_slot(struct uproc *p, uint64_t key, bool *fresh)
{
	size_t j;

	if ((p->pc_n + 1) * 2 > p->pc_cap) {
		size_t nc = p->pc_cap ? p->pc_cap * 2 : 1024;
		struct pcent *np = calloc(nc, sizeof(*np));

		if (!np)
			return NULL;
		for (size_t i = 0; i < p->pc_cap; i++) {
			if (!p->pc[i].key)
				continue;
			for (j = (p->pc[i].key * 0x9E3779B97F4A7C15ULL >> 20) & (nc - 1); np[j].key;
			     j = (j + 1) & (nc - 1))
				;
			np[j] = p->pc[i];
		}
		free(p->pc);
		p->pc = np;
		p->pc_cap = nc;
	}
	for (j = (key * 0x9E3779B97F4A7C15ULL >> 20) & (p->pc_cap - 1); p->pc[j].key;
	     j = (j + 1) & (p->pc_cap - 1))
		if (p->pc[j].key == key) {
			*fresh = false;
			return &p->pc[j];
		}
	p->pc[j] = (struct pcent){ .key = key };
	p->pc_n++;
	*fresh = true;
	return &p->pc[j];
}

/* The GNU build id of module m in hex (interned), NULL when it has none. */
static const char *module_build_id(struct am_unw *u, Dwfl_Module *m)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	char hex[2 * 64 + 1];
	int n = dwfl_module_build_id(m, &bits, &vaddr);

	if (n <= 0 || n > 64)
		return NULL;
	for (int i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", bits[i]);
	return intern(u, hex);
}

/* Is line, the row libdw found for an address of the function that starts
 * at symstart (0: unknown), really that address's line? libdwfl picks the
 * compilation unit by the nearest range below the address, so code with no
 * line information (crt1.o's _start, after an -O2 main in .text.startup)
 * gets the last row of the unit before it: a row that ends a sequence, or
 * one that starts before the function does. */
static bool line_of(Dwfl_Line *line, uint64_t symstart)
{
	Dwarf_Addr bias = 0, at = 0;
	Dwarf_Line *dl = dwfl_dwarf_line(line, &bias);
	bool end = false;

	if (dl && dwarf_lineendsequence(dl, &end) == 0 && end)
		return false;
	if (symstart && dwfl_lineinfo(line, &at, NULL, NULL, NULL, NULL) && at < symstart)
		return false;
	return true;
}

/* Symbolize pc (outer: a return address, looked up at pc - 1). */
static void symbolize(struct am_unw *u, struct uproc *p, uint64_t pc, bool outer, struct am_frame *fr)
{
	uint64_t key = outer && pc ? pc - 1 : pc;
	struct pcent *e;
	bool fresh = false;

	*fr = (struct am_frame){ .addr = pc };
	if (!key || !p->dwfl)
		return;
	e = pc_slot(p, key, &fresh);
	if (!e)
		return;
	if (fresh) {
		Dwfl_Module *m = dwfl_addrmodule(p->dwfl, key);

		if (m) {
			const char *modname = dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
			GElf_Off off = 0;
			GElf_Sym sym;
			Dwarf_Addr bias = 0;
			const char *name;
			Dwfl_Line *line;

			if (modname) {
				const char *slash = strrchr(modname, '/');
				e->obj = intern(u, slash ? slash + 1 : modname);
			}
			e->build_id = module_build_id(u, m);
			if (dwfl_module_getelf(m, &bias))
				e->bias = bias;
			name = dwfl_module_addrinfo(m, key, &off, &sym, NULL, NULL, NULL);
			if (name) {
				const char *mangled = intern(u, name);

				e->sym = demangled(u, mangled);
				e->mangled = e->sym != mangled ? mangled : NULL;
				e->symstart = key - off;
			}
			line = dwfl_module_getsrc(m, key);
			if (line && line_of(line, e->sym ? e->symstart : 0)) {
				int ln = 0;
				const char *src = dwfl_lineinfo(line, NULL, &ln, NULL, NULL, NULL);

				if (src && ln > 0) {
					e->file = intern(u, src);
					e->line = (uint32_t)ln;
				}
			}
		}
	}
	fr->sym = e->sym;
	fr->mangled = e->mangled;
	fr->obj = e->obj;
	fr->file = e->file;
	fr->line = e->line;
	fr->build_id = e->build_id;
	fr->off = e->sym ? pc - e->symstart : pc - e->bias;
}

/* ---------- unwinding ---------- */

static int frame_cb(Dwfl_Frame *st, void *arg)
{
	struct uctx *c = arg;
	Dwarf_Addr pc;
	bool act;

	if (!dwfl_frame_pc(st, &pc, &act))
		return DWARF_CB_ABORT;
	if (!pc) {
		c->ended = true;
		return DWARF_CB_ABORT;
	}
	if (c->n >= AM_UNW_MAX_FRAMES)
		return DWARF_CB_ABORT;
	c->pcs[c->n++] = pc;
	return DWARF_CB_OK;
}

/* Keyed by ip and sp only: bp, in code without frame pointers, is any
 * value, different at each call from the same place. */
static size_t memo_slot(const struct am_stack_event *e)
{
	uint64_t h = (e->ip * 0x9E3779B97F4A7C15ULL) ^ (e->sp * 0xff51afd7ed558ccdULL);

	return (size_t)((h ^ (h >> 29)) & (MEMO_SLOTS - 1));
}

/* The CFI row libdwfl unwinds the frame at pc with (.eh_frame first, then
 * .debug_frame, as frame_unwind.c does), or NULL. free() it. */
static Dwarf_Frame *cfi_row(Dwfl *dwfl, Dwarf_Addr pc)
{
	Dwfl_Module *m = dwfl_addrmodule(dwfl, pc);
	Dwarf_Frame *fr = NULL;
	Dwarf_Addr bias = 0;
	Dwarf_CFI *cfi;

	if (!m)
		return NULL;
	cfi = dwfl_module_eh_cfi(m, &bias);
	if (cfi && !dwarf_cfi_addrframe(cfi, pc - bias, &fr))
		return fr;
	cfi = dwfl_module_dwarf_cfi(m, &bias);
	if (cfi && !dwarf_cfi_addrframe(cfi, pc - bias, &fr))
		return fr;
	return NULL;
}

/* Could the initial bp have changed the unwind to pcs[0..n)? Only while
 * the frame pointer still holds its initial value, i.e. until a frame's CFI
 * restores the caller's from the stack (a CFA-relative slot), and only if
 * a frame's CFA is computed from it (or a frame has no CFI: libdwfl then
 * walks the frame-pointer chain). Anything else (expressions, a register
 * rule) counts as yes. */
static bool bp_matters(Dwfl *dwfl, const uint64_t *pcs, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		Dwarf_Frame *fr = cfi_row(dwfl, k ? pcs[k] - 1 : pcs[k]);
		Dwarf_Op *ops = NULL, mem[3];
		size_t nops = 0;
		bool cfa_sp, from_stack;

		if (!fr)
			return true;
		cfa_sp = !dwarf_frame_cfa(fr, &ops, &nops) && nops == 1 && ops[0].atom == DW_OP_bregx &&
			 ops[0].number != am_unw_arch_fp_dwarf;
		from_stack = !dwarf_frame_register(fr, am_unw_arch_fp_dwarf, mem, &ops, &nops) && nops >= 1 &&
			     ops[0].atom == DW_OP_call_frame_cfa;
		free(fr);
		if (!cfa_sp)
			return true;
		if (from_stack)
			return false;
	}
	return false;
}

/* The remembered unwind of c->e, or NULL: same registers, and the same
 * answer to every read the remembered unwind made. */
static const struct memo *memo_find(const struct uctx *c)
{
	const struct memo *m = c->p->memo ? c->p->memo[memo_slot(c->e)] : NULL;

	if (!m || m->ip != c->e->ip || m->sp != c->e->sp || (m->bp_matters && m->bp != c->e->bp) ||
	    m->ends != (c->copy_short || c->whole))
		return NULL;
	for (uint32_t i = 0; i < m->n_reads; i++) {
		uint64_t v = 0;

		if (stack_word(c, m->reads[i].addr, &v) != m->reads[i].ok ||
		    (m->reads[i].ok && v != m->reads[i].val))
			return NULL;
	}
	return m;
}

static void memo_put(struct uctx *c, bool complete)
{
	struct uproc *p = c->p;
	size_t k = memo_slot(c->e);
	struct memo *m;

	if (c->reads_over)
		return;
	if (!p->memo && !(p->memo = calloc(MEMO_SLOTS, sizeof(*p->memo))))
		return;
	m = malloc(sizeof(*m) + c->n_reads * sizeof(struct rd) + c->n * sizeof(uint64_t));
	if (!m)
		return;
	*m = (struct memo){ .ip = c->e->ip, .sp = c->e->sp, .bp = c->e->bp,
			    .bp_matters = bp_matters(p->dwfl, c->pcs, c->n),
			    .ends = c->copy_short || c->whole, .complete = complete, .ended = c->ended,
			    .read_failed = c->read_failed,
			    .n_reads = c->n_reads, .n = (uint32_t)c->n, .max_read = c->max_read };
	m->reads = (struct rd *)(m + 1);
	m->pcs = (uint64_t *)(m->reads + c->n_reads);
	memcpy(m->reads, c->reads, c->n_reads * sizeof(struct rd));
	memcpy(m->pcs, c->pcs, c->n * sizeof(uint64_t));
	free(p->memo[k]);
	p->memo[k] = m;
}

/* Is pc (outer: a return address) in the entry function of its object
 * (e_entry: _start)? That is the outermost frame, whether or not its CFI
 * says so: ld.so's _start has none that ends the chain, and unwinding past
 * it gives a pc in no module. */
static bool at_entry(Dwfl *dwfl, uint64_t pc, bool outer)
{
	uint64_t key = outer ? pc - 1 : pc;
	Dwfl_Module *m = dwfl_addrmodule(dwfl, key);
	GElf_Addr bias = 0;
	GElf_Off off = 0;
	GElf_Ehdr eh;
	GElf_Sym sym;
	Elf *elf;

	if (!m || !(elf = dwfl_module_getelf(m, &bias)) || !gelf_getehdr(elf, &eh) || !eh.e_entry)
		return false;
	if (!dwfl_module_addrinfo(m, key, &off, &sym, NULL, NULL, NULL))
		return false;
	return key - off == eh.e_entry + bias;
}

/* DWARF unwinding of c->e into c->pcs. True when it reached the outermost
 * frame (or the frame limit), false when it stopped early. */
static bool dwarf_unwind(struct uctx *c)
{
	struct uproc *p = c->p;
	const struct memo *m;
	bool complete;
	int rc;

	c->n = 0;
	c->n_reads = 0;
	c->reads_over = false;
	c->max_read = 0;
	c->ended = false;
	c->read_failed = false;
	if (!p->dwfl)
		return false;
	if ((m = memo_find(c))) {
		memcpy(c->pcs, m->pcs, m->n * sizeof(uint64_t));
		c->n = m->n;
		c->ended = m->ended;
		c->read_failed = m->read_failed;
		c->max_read = m->max_read;
		c->u->st.memo_hits++;
		return m->complete;
	}
	if (!p->attached) {
		if (!dwfl_attach_state(p->dwfl, NULL, (pid_t)p->pid, &thread_cbs, c))
			return false;
		p->attached = true;
	}
	rc = dwfl_getthread_frames(p->dwfl, (pid_t)c->e->tid, frame_cb, c);
	/* libdwfl ends without an error where it cannot read a return address:
	 * the end only if no read failed. Running out of a copy that reached
	 * the top of the stack is the end; out of a whole-stack copy or an
	 * stack_bytes one it is not (the top was wrong, the stack deeper) */
	complete = ((rc == 0 || c->ended) && !c->read_failed) || c->copy_short ||
		   c->n >= AM_UNW_MAX_FRAMES ||
		   (!c->read_failed && c->n && at_entry(p->dwfl, c->pcs[c->n - 1], c->n > 1));
	memo_put(c, complete);
	return complete;
}

/* After the unwind of a full copy (not AM_SEV_WHOLE) that reached the
 * outermost frame: tell the BPF side where this thread's stack ends (the
 * highest word the unwind read, with a margin, within what was copied), so
 * that its next stacks copy only that much. A whole-stack copy that did not
 * unwind to the end had a wrong top: forget it, to learn it again. */
static void learn_top(struct uctx *c, bool complete)
{
	const struct am_stack_event *e = c->e;
	struct am_unw *u = c->u;
	struct am_stack_top t = { .tstart = e->tstart };
	uint32_t tid = e->tid;

	if (u->tops_fd < 0)
		return;
	if (c->whole) {
		if (!complete) {
			bpf_map_delete_elem(u->tops_fd, &tid);
			u->told[tid % TOLD].tid = 0;
			u->st.tops_dropped++;
		}
		return;
	}
	if (!complete || c->n >= AM_UNW_MAX_FRAMES)
		return;
	if (c->read_failed)
		t.top = e->sp + c->len; /* copy_short: the stack's mapping ends there */
	else if (c->max_read > e->sp)
		t.top = ((c->max_read + 7) & ~7ULL) + AM_TOP_MARGIN;
	else
		return;
	if (t.top > e->sp + c->len)
		t.top = e->sp + c->len;
	/* the records in the ring behind the first of a thread say the same */
	struct told *w = &u->told[tid % TOLD];
	if (w->tid == tid && w->t.tstart == t.tstart && w->t.top == t.top)
		return;
	if (!bpf_map_update_elem(u->tops_fd, &tid, &t, BPF_ANY)) {
		u->st.tops_learned++;
		*w = (struct told){ .tid = tid, .t = t };
	}
}

/* The frame-pointer chain of a whole-stack copy (the BPF side did not
 * walk it): as bpf_get_stack walks it, from bp, while it stays in the copy
 * (a chain of frames all lies below the stack's top). */
static size_t fp_chain(const struct uctx *c, __u64 *ips)
{
	const struct am_stack_event *e = c->e;
	uint64_t fp = e->bp;
	size_t n = 0;

	ips[n++] = e->ip;
	while (n < AM_FP_MAX && fp >= e->sp && fp - e->sp + 16 <= c->len) {
		uint64_t next, ra;

		memcpy(&next, c->data + (fp - e->sp), 8);
		memcpy(&ra, c->data + (fp - e->sp) + 8, 8);
		ips[n++] = ra;
		fp = next;
	}
	return n;
}

struct am_unw *am_unw__new(enum am_unwind_mode mode)
{
	struct am_unw *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	elf_version(EV_CURRENT);
	u->mode = mode;
	u->tops_fd = -1;
	pthread_mutex_init(&u->lock, NULL);
	u->snaps_tail = &u->snaps;
	return u;
}

void am_unw__free(struct am_unw *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->n_procs; i++)
		proc_free(u->procs[i]);
	free(u->procs);
	for (size_t i = 0; i < u->n_elfs; i++) {
		elf_end(u->elfs[i].elf);
		close(u->elfs[i].fd);
	}
	free(u->elfs);
	free(u->dm);
	am_strtab_free(&u->strs);
	while (u->snaps) {
		struct snap *next = u->snaps->next;
		free(u->snaps);
		u->snaps = next;
	}
	pthread_mutex_destroy(&u->lock);
	free(u);
}

void am_unw__set_tops(struct am_unw *u, int fd)
{
	u->tops_fd = fd;
}

void am_unw__stats(const struct am_unw *u, struct am_unw_stats *out)
{
	*out = u->st;
}

void am_unw__snapshot(struct am_unw *u, uint32_t pid)
{
	char path[64];
	size_t cap = 16384, len = 0;
	struct snap *s = malloc(sizeof(*s) + cap);
	uint64_t ts = am_now_ns();
	int fd;
	ssize_t k;

	if (!s)
		return;
	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	fd = am_open_target(path, false);
	if (fd < 0) {
		free(s);
		return;
	}
	while ((k = read(fd, s->text + len, cap - len)) > 0) {
		len += (size_t)k;
		if (len == cap) {
			struct snap *ns = realloc(s, sizeof(*s) + cap * 2);

			if (!ns)
				break;
			s = ns;
			cap *= 2;
		}
	}
	close(fd);
	s->next = NULL;
	s->pid = pid;
	s->ts = ts;
	s->len = len;
	pthread_mutex_lock(&u->lock);
	*u->snaps_tail = s;
	u->snaps_tail = &s->next;
	pthread_mutex_unlock(&u->lock);
}

void am_unw__refresh(struct am_unw *u, uint32_t pid)
{
	struct uproc *p = proc_get(u, pid);

	drain(u);
	if (p)
		read_maps(p);
}

void am_unw__exec(struct am_unw *u, uint32_t pid, uint64_t ts)
{
	struct uproc *p = proc_get(u, pid);
	size_t w = 0;

	if (!p)
		return;
	drain(u);
	/* its one thread has a new stack: forget the old one's top (the BPF
	 * side did at the exec, but a stack of the old image unwound since
	 * may have told it again) */
	if (u->told[pid % TOLD].tid == pid)
		u->told[pid % TOLD].tid = 0;
	if (u->tops_fd >= 0)
		bpf_map_delete_elem(u->tops_fd, &pid);
	/* a new image: a new Dwfl (the old modules and their state are gone) */
	if (p->dwfl)
		dwfl_end(p->dwfl);
	p->dwfl = NULL;
	memo_clear(p);
	p->attached = false;
	p->reported = false;
	p->gone = false;
	/* keep what snapshots taken since the exec saw: the new image */
	for (size_t i = 0; i < p->n; i++) {
		if (p->m[i].seen >= ts)
			p->m[w++] = p->m[i];
		else
			free(p->m[i].path);
	}
	p->n = w;
	read_maps(p);
}

void am_unw__fork(struct am_unw *u, uint32_t parent, uint32_t child)
{
	struct uproc *pp, *cp;

	drain(u);
	pp = proc_get(u, parent);
	cp = proc_get(u, child);
	if (!pp || !cp || cp->n)
		return;
	/* the child's mappings are its parent's, as they were at the fork */
	for (size_t i = 0; i < pp->n; i++) {
		struct mapent e = pp->m[i];

		e.path = strdup(pp->m[i].path);
		if (e.path)
			map_put(cp, &e);
	}
	cp->reported = false;
}

void am_unw__exit(struct am_unw *u, uint32_t pid)
{
	drain(u); /* its last snapshots, so they do not bring it back */
	for (size_t i = 0; i < u->n_procs; i++) {
		if (u->procs[i]->pid != pid)
			continue;
		proc_free(u->procs[i]);
		u->procs[i] = u->procs[--u->n_procs];
		return;
	}
}

/* The record's frame-pointer chain into ips (innermost first), with the
 * uretprobe trampolines where our calls return put back to the real return
 * addresses, innermost call first. Returns its length. */
static size_t fp_ips(const struct uctx *c, uint64_t *ips)
{
	const struct am_stack_event *e = c->e;
	int r = (int)(e->n_ret < AM_MAX_DEPTH ? e->n_ret : AM_MAX_DEPTH) - 1;
	const __u64 *chain = e->ips;
	__u64 walked[AM_FP_MAX];
	size_t n = e->n_ips;

	if (c->whole) {
		n = fp_chain(c, walked);
		chain = walked;
	}
	for (size_t j = 0; j < n; j++) {
		ips[j] = chain[j];
		if (j && r >= 0 && !covered(c->p, ips[j]) && e->ret_ip[r])
			ips[j] = e->ret_ip[r--];
	}
	return n;
}

/* DWARF stopped early at c->pcs[0..*n): splice the frame-pointer chain in
 * after the last DWARF frame it also contains, only while it looks like
 * code (without frame pointers the chain is garbage) and only if it adds a
 * frame (else the DWARF frames past that one stay); or take it whole if
 * DWARF got nowhere. True when spliced. */
static bool splice_fp(struct uctx *c, const uint64_t *ips, size_t n_ips, size_t *n, uint32_t *flags)
{
	bool met = false;

	for (size_t k = *n; k-- > 0 && !met;)
		for (size_t j = 1; j < n_ips; j++) {
			size_t m = k + 1;

			if (ips[j] != c->pcs[k])
				continue;
			for (j++; j < n_ips && m < AM_UNW_MAX_FRAMES && code(c->p, ips[j]); j++)
				c->pcs[m++] = ips[j];
			if (m > k + 1) {
				*n = m;
				return true;
			}
			met = true;
			break;
		}
	if (*n <= 1) {
		memcpy(c->pcs, ips, n_ips * sizeof(*ips));
		*n = n_ips;
		*flags |= AM_STK_NOCOPY;
	}
	return false;
}

size_t am_unw__stack(struct am_unw *u, const void *rec, size_t len, struct am_frame *out,
		     size_t max, uint32_t *flags, int *cut)
{
	const struct am_stack_event *e = rec;
	struct uctx c = { .u = u };
	uint64_t ips[AM_FP_MAX];
	size_t n_ips, n = 0;
	bool complete = false;
	struct uproc *p;

	*flags = 0;
	*cut = -1;
	if (len < sizeof(*e) || e->type != AM_EV_STACK || e->stack_len > len - sizeof(*e) ||
	    e->n_ips > AM_FP_MAX)
		return 0;
	p = proc_get(u, e->pid);
	if (!p)
		return 0;
	c.p = p;
	c.e = e;
	c.data = e->data;
	c.len = e->stack_len;
	c.whole = e->flags & AM_SEV_WHOLE;
	c.copy_short = !c.whole && e->stack_len < len - sizeof(*e);
	cur = &c;
	drain(u);
	u->st.stacks++;
	if (c.whole)
		u->st.whole++;

	/* a pc outside every known module: the layout changed (dlopen, exec) */
	if ((!p->n || !covered(p, e->ip)) && !p->gone && am_now_ns() - p->last_refresh > REFRESH_GAP_NS)
		read_maps(p);
	report(p);
	n_ips = fp_ips(&c, ips);

	if (u->mode != AM_UNWIND_FP && c.len) {
		complete = dwarf_unwind(&c);
		learn_top(&c, complete);
		n = c.n;
		if (!complete && u->mode == AM_UNWIND_AUTO && n_ips > 1)
			complete = splice_fp(&c, ips, n_ips, &n, flags);
	} else if (u->mode != AM_UNWIND_DWARF) {
		for (n = 0; n < n_ips && (n == 0 || code(p, ips[n])); n++)
			c.pcs[n] = ips[n];
		complete = n_ips < AM_FP_MAX;
		*flags |= AM_STK_NOCOPY;
	}
	if (!n) {
		c.pcs[0] = e->ip;
		n = 1;
	}
	if (!complete && !(*flags & AM_STK_NOCOPY))
		*flags |= AM_STK_TRUNCATED;

	/* the causing call's frame: its return address is at *call_sp */
	if (e->kind == AM_STACK_OS && e->call_sp >= e->sp && e->call_sp - e->sp + 8 <= c.len) {
		uint64_t ra = e->ret_ip[0];

		for (size_t i = 1; i < n; i++)
			if (c.pcs[i] == ra) {
				*cut = (int)i - 1;
				break;
			}
	}
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		symbolize(u, p, c.pcs[i], i > 0, &out[i]);
	cur = NULL;
	return n;
}
