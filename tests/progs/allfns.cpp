// SPDX-License-Identifier: GPL-2.0
/* allfns.cpp - calls every function of AM_FN_TABLE (bpf/allocmap.h) once or
 * more, with distinct arguments, so that a test can compare how each is
 * written in the text output and in the HTML report (tests/e2e/t_report.py:
 * call_notation): malloc, calloc (also one over the mmap threshold and one
 * with nmemb 0), realloc (from NULL and of a pointer), reallocarray,
 * posix_memalign (a success and an EINVAL), aligned_alloc, memalign, valloc,
 * pvalloc, free, and every operator new / delete variant called by name. */
#include <cstdio>
#include <cstdlib>
#include <malloc.h>
#include <new>

int main()
{
	void *p = malloc(100);
	void *c = calloc(50, 8000);       /* 400000 B: over the threshold, mmap */
	void *z = calloc(0, 24);
	void *r = realloc(nullptr, 300);
	r = realloc(r, 5000);
	void *ra = reallocarray(nullptr, 10, 100);
	ra = reallocarray(ra, 20, 100);
	void *pm = nullptr, *bad = nullptr;
	int rc = posix_memalign(&pm, 64, 1000);
	int rc_bad = posix_memalign(&bad, 3, 1000);   /* not a power of two: EINVAL */
	void *aa = aligned_alloc(4096, 8192);
	void *ma = memalign(256, 3000);
	void *va = valloc(5000);
	void *pv = pvalloc(6000);
	std::printf("rc %d, rc_bad %d\n", rc, rc_bad);
	free(p), free(c), free(z), free(r), free(ra), free(pm), free(aa), free(ma), free(va), free(pv);

	const std::align_val_t al{128};
	void *n1 = operator new(111);
	void *n2 = operator new[](222);
	void *n3 = operator new(333, std::nothrow);
	void *n4 = operator new[](444, std::nothrow);
	void *n5 = operator new(555, al);
	void *n6 = operator new[](666, al);
	void *n7 = operator new(777, al, std::nothrow);
	void *n8 = operator new[](888, al, std::nothrow);
	void *n9 = operator new(999);
	void *n10 = operator new[](1111);
	void *n11 = operator new(1222, al);
	void *n12 = operator new[](1333, al);
	void *n13 = operator new(1444);
	void *n14 = operator new[](1555);
	void *n15 = operator new(1666, al);
	void *n16 = operator new[](1777, al);
	operator delete(n1);
	operator delete[](n2);
	operator delete(n3, std::nothrow);
	operator delete[](n4, std::nothrow);
	operator delete(n5, al);
	operator delete[](n6, al);
	operator delete(n7, al, std::nothrow);
	operator delete[](n8, al, std::nothrow);
	operator delete(n9, 999);
	operator delete[](n10, 1111);
	operator delete(n11, 1222, al);
	operator delete[](n12, 1333, al);
	operator delete(n13, std::nothrow);
	operator delete[](n14, std::nothrow);
	operator delete(n15, al, std::nothrow);
	operator delete[](n16, al, std::nothrow);
	return 0;
}
