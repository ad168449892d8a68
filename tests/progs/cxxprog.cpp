// SPDX-License-Identifier: GPL-2.0
/* cxxprog.cpp - a C++ test program for the C++ operators (tests/e2e/t_causes.py):
 * known operator new / new[] / delete / delete[] calls, run under glibc,
 * jemalloc and tcmalloc (whose Debian builds define the operators
 * themselves, so these calls never pass through their malloc).
 *
 *   new char[300000] then delete[]        (glibc: malloc -> mmap inside new[])
 *   new Big (40000 B) then delete         (sized delete under C++14)
 *   a std::vector<long> grown by push_back to 100000 elements
 *   32 x new int then delete                                          */
#include <cstdio>
#include <vector>

struct Big {
	char b[40000];
};

int main()
{
	char *arr = new char[300000];
	arr[0] = 1;
	delete[] arr;

	Big *big = new Big;
	big->b[0] = 2;
	delete big;

	std::vector<long> v;
	for (long i = 0; i < 100000; i++)
		v.push_back(i);

	int *ints[32];
	for (int i = 0; i < 32; i++)
		ints[i] = new int(i);
	for (int i = 0; i < 32; i++)
		delete ints[i];
	std::printf("%zu\n", v.size());
	return 0;
}
