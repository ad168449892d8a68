// SPDX-License-Identifier: GPL-2.0
/* model.c - the name tables of the event model (model.h): allocator
 * functions, memory syscalls, region kinds, glibc/musl threshold reasons and
 * threshold sources, in enum order, as the renderers print them. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AM_FN_ROW_(e, sym_, name_, role_) [AM_FN_##e] = { .sym = sym_, .name = name_, .role = AM_ROLE_##role_ },
struct am_fn_info am_fns_[AM_FN_MAX] = { AM_FN_TABLE(AM_FN_ROW_) };
#undef AM_FN_ROW_
int am_n_fns_ = AM_FN__COUNT;

static const struct {
	const char *name;
	int nargs;
	const char *shape;
} roles[AM_ROLE__COUNT] = {
#define AM_ROLE_ROW_(e, name_, nargs_, shape_) [AM_ROLE_##e] = { name_, nargs_, shape_ },
	AM_ROLE_TABLE(AM_ROLE_ROW_)
#undef AM_ROLE_ROW_
};

int am_fn_by_name(const char *name)
{
	for (int i = 0; i < am_n_fns_; i++)
		if (!strcmp(am_fns_[i].name, name))
			return i;
	return -1;
}

int am_role_nargs(enum am_role role)
{
	return role < AM_ROLE__COUNT ? roles[role].nargs : -1;
}

const char *am_role_name(enum am_role role)
{
	return role < AM_ROLE__COUNT ? roles[role].name : "?";
}

const char *am_role_shape(enum am_role role)
{
	return role < AM_ROLE__COUNT ? roles[role].shape : "?";
}

int am_role_by_name(const char *name)
{
	for (int r = 0; name && r < AM_ROLE__COUNT; r++)
		if (!strcmp(name, roles[r].name))
			return r;
	return -1;
}

int am_fn_register(const char *name, const char *role)
{
	char spec[512], err[256];

	if (strchr(name, '=') || strchr(name, '@'))
		return -1;
	if (snprintf(spec, sizeof(spec), "%s=%s", name, role) >= (int)sizeof(spec))
		return -1;
	return am_fn_add(spec, err, sizeof(err));
}

/* SYM[@LIB]=ROLE, e.g. PyObject_Malloc=malloc, g_free@libglib-2.0.so.0=free */
int am_fn_add(const char *spec, char *err, size_t errlen)
{
	const char *eq = strrchr(spec, '='), *at;
	size_t symlen;
	int role = -1;
	char *sym, *lib = NULL;

	if (!eq || eq == spec || !eq[1]) {
		snprintf(err, errlen, "--alloc '%s': expected SYMBOL[@LIBRARY]=ROLE", spec);
		return -1;
	}
	role = am_role_by_name(eq + 1);
	if (role < 0) {
		char list[256];
		size_t n = 0;

		list[0] = '\0';
		for (int r = 0; r < AM_ROLE__COUNT && n < sizeof(list); r++)
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", r ? ", " : "", roles[r].name);
		snprintf(err, errlen, "--alloc '%s': unknown role '%s' (%s)", spec, eq + 1, list);
		return -1;
	}
	at = memchr(spec, '@', (size_t)(eq - spec));
	symlen = (size_t)((at ? at : eq) - spec);
	if (!symlen || (at && at + 1 == eq)) {
		snprintf(err, errlen, "--alloc '%s': empty symbol or library", spec);
		return -1;
	}
	if (am_n_fns_ >= AM_FN_MAX) {
		snprintf(err, errlen, "--alloc '%s': at most %d functions can be traced", spec,
			 AM_FN_MAX - AM_FN__COUNT);
		return -1;
	}
	sym = strndup(spec, symlen);
	if (at)
		lib = strndup(at + 1, (size_t)(eq - at - 1));
	if (!sym || (at && !lib)) {
		free(sym);
		free(lib);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < am_n_fns_; i++)
		if (!strcmp(am_fns_[i].sym, sym) || !strcmp(am_fns_[i].name, sym)) {
			snprintf(err, errlen, "--alloc '%s': %s is already traced", spec, sym);
			free(sym);
			free(lib);
			return -1;
		}
	am_fns_[am_n_fns_] = (struct am_fn_info){ .sym = sym, .name = sym, .role = (enum am_role)role,
					  .lib = lib, .user = true };
	return am_n_fns_++;
}

#define AM_SYS_ROW_(e, name_, ret_addr_, color_, args_) \
	[AM_SYS_##e] = { .name = name_, .ret_addr = ret_addr_, .color = color_, .args = args_ },
const struct am_sys_info am_sys_info_[AM_SYS__COUNT] = { AM_SYSCALL_TABLE(AM_SYS_ROW_) };
#undef AM_SYS_ROW_
#define AM_SYS_NAME_(e, name_, ret_addr_, color_, args_) [AM_SYS_##e] = name_,
const char *const am_sys_names[AM_SYS__COUNT] = { AM_SYSCALL_TABLE(AM_SYS_NAME_) };
#undef AM_SYS_NAME_

int am_sys_by_name(const char *name)
{
	for (int i = 0; name && i < AM_SYS__COUNT; i++)
		if (!strcmp(name, am_sys_names[i]))
			return i;
	return -1;
}

const char *const am_region_names[AM_REG__COUNT] = {
	[AM_REG_UNKNOWN]     = "unknown",
	[AM_REG_HEAP]        = "heap",
	[AM_REG_MMAP]        = "mmap",
	[AM_REG_ARENA]       = "arena",
	[AM_REG_PREEXISTING] = "preexisting",
	[AM_REG_DIRECT]      = "direct",
};

const char *const am_reason_names[AM_WHY__COUNT] = {
	[AM_WHY_NONE]            = "",
	[AM_WHY_UNDER_THRESHOLD] = "under_threshold",
	[AM_WHY_FIT_TOP]         = "fit_top_chunk",
	[AM_WHY_OVER_THRESHOLD]  = "over_threshold",
	[AM_WHY_GROUP]           = "size_class_group",
};

const char *const am_thr_source_names[AM_THR_SRC__COUNT] = {
	[AM_THR_SRC_DEFAULT] = "default",
	[AM_THR_SRC_ENV]     = "env",
	[AM_THR_SRC_PROCESS] = "process",
	[AM_THR_SRC_UNKNOWN] = "unknown",
	[AM_THR_SRC_FORK]    = "fork",
};
