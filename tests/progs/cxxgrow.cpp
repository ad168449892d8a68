// SPDX-License-Identifier: GPL-2.0
// cxxgrow.cpp - a small C++ program for tests/e2e/t_real.py: std::vector,
// std::string and std::map growth through operator new/delete, the way real
// C++ programs allocate (libstdc++'s operator new calls malloc under glibc;
// jemalloc and tcmalloc define operator new themselves). Deterministic: the
// same calls in the same order on every run. Also makes two allocations of
// sizes nothing else asks for (3000017 and 5000011 bytes, operator new[] and
// std::vector) so the test can check that allocmap saw the program's own
// requests. Prints a checksum so no allocation can be optimised away.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

int main()
{
	unsigned long sum = 0;

	// vector growth: capacities 1, 2, 4, ... 524288 longs (up to 4 MiB)
	std::vector<long> v;
	for (long i = 0; i < 300000; i++)
		v.push_back(i);
	sum += v[v.size() / 2];

	// string growth by appending, and many short-lived strings
	std::string s;
	for (int i = 0; i < 20000; i++)
		s += "abcdefghij";
	sum += s.size();
	std::vector<std::string> words;
	for (int i = 0; i < 20000; i++)
		words.push_back(std::string(20 + i % 200, 'a' + i % 26));
	for (auto &w : words)
		sum += w.size();

	// map: one node per insert, then erase half
	std::map<int, std::string> m;
	for (int i = 0; i < 20000; i++)
		m[i * 7919 % 20011] = std::to_string(i) + std::string(40, 'x');
	for (int i = 0; i < 20000; i += 2)
		m.erase(i * 7919 % 20011);
	sum += m.size();

	// two requests of sizes no library asks for
	char *big = new char[3000017];
	for (int i = 0; i < 3000017; i += 4096)
		big[i] = (char)i;
	sum += (unsigned char)big[4096];
	std::vector<char> big2(5000011, 'z');
	sum += (unsigned char)big2[5000010];
	delete[] big;

	std::printf("%lu\n", sum);
	return 0;
}
