"""A dozen competitive-programming style problems: tests, correct and subtly wrong solutions.

Each problem is a dict: ``name``, ``tests`` (stdin/stdout or call-based), ``checker``, optional
``time_limit_s``, ``correct`` (solutions that must pass every test) and ``wrong`` (solutions with
a realistic bug that must fail at least one test; ``partial=True`` ones also pass at least one).
"""

from __future__ import annotations

PROBLEMS: list[dict] = [
    {
        "name": "big_a_plus_b",
        "checker": "tokens",
        "tests": [
            {"input": "1 2\n", "output": "3\n"},
            {"input": "-5 5\n", "output": "0\n"},
            {"input": "123456789012345678901234567890 1\n", "output": "123456789012345678901234567891\n"},
        ],
        "correct": ["a, b = map(int, input().split())\nprint(a + b)\n"],
        "wrong": [
            # floats lose the last digits of big numbers
            ("a, b = map(float, input().split())\nprint(int(a + b))\n", True),
        ],
    },
    {
        "name": "max_subarray",
        "checker": "tokens",
        "tests": [
            {"input": "5\n1 -2 3 4 -1\n", "output": "7\n"},
            {"input": "3\n-3 -1 -2\n", "output": "-1\n"},
            {"input": "1\n10\n", "output": "10\n"},
            {"input": "6\n2 -1 2 -1 2 -10\n", "output": "4\n"},
        ],
        "correct": [
            "import sys\n"
            "data = sys.stdin.read().split()\n"
            "n, xs = int(data[0]), list(map(int, data[1:]))\n"
            "best = cur = xs[0]\n"
            "for x in xs[1:]:\n"
            "    cur = max(x, cur + x)\n"
            "    best = max(best, cur)\n"
            "print(best)\n",
        ],
        "wrong": [
            # the empty subarray is not allowed: all-negative input breaks best = 0
            (
                "n = int(input())\nxs = list(map(int, input().split()))\nbest = cur = 0\n"
                "for x in xs:\n    cur = max(0, cur + x)\n    best = max(best, cur)\nprint(best)\n",
                True,
            ),
        ],
    },
    {
        "name": "two_sum",
        "checker": "tokens",
        "tests": [
            {"fn_name": "twoSum", "args": [[2, 7, 11, 15], 9], "expected": [0, 1]},
            {"fn_name": "twoSum", "args": [[3, 2, 4], 6], "expected": [1, 2]},
            {"fn_name": "twoSum", "args": [[3, 3], 6], "expected": [0, 1]},
        ],
        "correct": [
            "from typing import List\n"
            "class Solution:\n"
            "    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
            "        seen = {}\n"
            "        for i, x in enumerate(nums):\n"
            "            if target - x in seen:\n"
            "                return [seen[target - x], i]\n"
            "            seen[x] = i\n",
        ],
        "wrong": [
            # uses the same element twice when target == 2 * x
            (
                "def twoSum(nums, target):\n    pos = {x: i for i, x in enumerate(nums)}\n"
                "    for i, x in enumerate(nums):\n        if target - x in pos:\n"
                "            return sorted([i, pos[target - x]])\n",
                True,
            ),
        ],
    },
    {
        "name": "sorted_distinct",
        "checker": "exact",
        "tests": [
            {"input": "6\n3 1 3 2 1 5\n", "output": "1 2 3 5\n"},
            {"input": "3\n7 7 7\n", "output": "7\n"},
            {"input": "4\n4 3 2 1\n", "output": "1 2 3 4\n"},
            {"input": "5\n100 9 10 9 -1\n", "output": "-1 9 10 100\n"},
        ],
        "correct": ["input()\nprint(*sorted(set(map(int, input().split()))))\n"],
        "wrong": [
            # forgets to drop duplicates
            ("input()\nprint(*sorted(map(int, input().split())))\n", True),
            # sorts as strings
            ("input()\nprint(' '.join(sorted(set(input().split()))))\n", True),
        ],
    },
    {
        "name": "lcm_of_list",
        "checker": "tokens",
        "tests": [
            {"input": "2\n4 6\n", "output": "12\n"},
            {"input": "3\n2 3 4\n", "output": "12\n"},
            {"input": "3\n6 10 15\n", "output": "30\n"},
        ],
        "correct": [
            "from math import gcd\nfrom functools import reduce\ninput()\n"
            "xs = list(map(int, input().split()))\nprint(reduce(lambda a, b: a * b // gcd(a, b), xs))\n",
        ],
        "wrong": [
            # product over the gcd of all: right for two numbers only
            (
                "from math import gcd, prod\nfrom functools import reduce\ninput()\n"
                "xs = list(map(int, input().split()))\nprint(prod(xs) // reduce(gcd, xs))\n",
                True,
            ),
        ],
    },
    {
        "name": "fibonacci_mod",
        "checker": "tokens",
        "time_limit_s": 1.0,
        "tests": [
            {"input": "10\n", "output": "55\n"},
            {"input": "1\n", "output": "1\n"},
            {"input": "1000000000000000000\n", "output": "209783453\n"},
        ],
        "correct": [
            "M = 10**9 + 7\n"
            "def fib(n):\n"
            "    if n == 0:\n"
            "        return (0, 1)\n"
            "    a, b = fib(n >> 1)\n"
            "    c = a * (2 * b - a) % M\n"
            "    d = (a * a + b * b) % M\n"
            "    return (d, (c + d) % M) if n & 1 else (c, d)\n"
            "print(fib(int(input()))[0])\n",
        ],
        "wrong": [
            # linear loop: right answers, far too slow for n = 1e18
            (
                "M = 10**9 + 7\nn = int(input())\na, b = 0, 1\nfor _ in range(n):\n    a, b = b, (a + b) % M\nprint(a)\n",
                True,
            ),
        ],
    },
    {
        "name": "circle_area",
        "checker": "float:1e-6",
        "tests": [
            {"input": "1\n", "output": "3.141592653589793\n"},
            {"input": "2.5\n", "output": "19.634954084936208\n"},
            {"input": "1000\n", "output": "3141592.653589793\n"},
        ],
        "correct": [
            "import math\nr = float(input())\nprint(f'{math.pi * r * r:.9f}')\n",
            "import math\nr = float(input())\nprint('%e' % (math.pi * r * r))\n",
        ],
        "wrong": [
            # pi rounded to 3.1416: relative error 2.3e-6, over the tolerance
            ("r = float(input())\nprint(3.1416 * r * r)\n", False),
        ],
    },
    {
        "name": "valid_parentheses",
        "checker": "tokens",
        "tests": [
            {"fn_name": "isValid", "args": ["()[]{}"], "expected": True},
            {"fn_name": "isValid", "args": ["(]"], "expected": False},
            {"fn_name": "isValid", "args": [")("], "expected": False},
            {"fn_name": "isValid", "args": ["{[()]}"], "expected": True},
        ],
        "correct": [
            "class Solution:\n"
            "    def isValid(self, s: str) -> bool:\n"
            "        pairs, stack = {')': '(', ']': '[', '}': '{'}, []\n"
            "        for ch in s:\n"
            "            if ch in pairs:\n"
            "                if not stack or stack.pop() != pairs[ch]:\n"
            "                    return False\n"
            "            else:\n"
            "                stack.append(ch)\n"
            "        return not stack\n",
        ],
        "wrong": [
            # counts brackets but ignores their order and kind
            (
                "def isValid(s):\n    return s.count('(') == s.count(')') and s.count('[') == s.count(']') "
                "and s.count('{') == s.count('}')\n",
                True,
            ),
            # returns 1/0 instead of booleans
            (
                "def isValid(s):\n    st = []\n    for c in s:\n        if c in '([{':\n            st.append(c)\n"
                "        elif not st or '([{'[')]}'.index(c)] != st.pop():\n            return 0\n    return int(not st)\n",
                False,
            ),
        ],
    },
    {
        "name": "grid_shortest_path",
        "checker": "tokens",
        "tests": [
            {"input": "3 3\n...\n.#.\n...\n", "output": "4\n"},
            {"input": "2 2\n.#\n#.\n", "output": "-1\n"},
            {"input": "1 1\n.\n", "output": "0\n"},
            {"input": "3 4\n....\n###.\n....\n", "output": "5\n"},
        ],
        "correct": [
            "import sys\nfrom collections import deque\n"
            "it = iter(sys.stdin.read().split())\nh, w = int(next(it)), int(next(it))\n"
            "g = [next(it) for _ in range(h)]\n"
            "dist = [[-1] * w for _ in range(h)]\ndist[0][0] = 0\nq = deque([(0, 0)])\n"
            "while q:\n    r, c = q.popleft()\n"
            "    for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):\n"
            "        nr, nc = r + dr, c + dc\n"
            "        if 0 <= nr < h and 0 <= nc < w and g[nr][nc] == '.' and dist[nr][nc] < 0:\n"
            "            dist[nr][nc] = dist[r][c] + 1\n            q.append((nr, nc))\n"
            "print(dist[h - 1][w - 1])\n",
        ],
        "wrong": [
            # diagonal moves allowed
            (
                "import sys\nfrom collections import deque\n"
                "it = iter(sys.stdin.read().split())\nh, w = int(next(it)), int(next(it))\n"
                "g = [next(it) for _ in range(h)]\n"
                "dist = [[-1] * w for _ in range(h)]\ndist[0][0] = 0\nq = deque([(0, 0)])\n"
                "while q:\n    r, c = q.popleft()\n"
                "    for dr in (-1, 0, 1):\n        for dc in (-1, 0, 1):\n"
                "            nr, nc = r + dr, c + dc\n"
                "            if 0 <= nr < h and 0 <= nc < w and g[nr][nc] == '.' and dist[nr][nc] < 0:\n"
                "                dist[nr][nc] = dist[r][c] + 1\n                q.append((nr, nc))\n"
                "print(dist[h - 1][w - 1])\n",
                True,
            ),
        ],
    },
    {
        "name": "longest_common_subsequence",
        "checker": "tokens",
        "tests": [
            {"fn_name": "lcs", "args": ["abcde", "ace"], "expected": 3},
            {"fn_name": "lcs", "args": ["abc", "abc"], "expected": 3},
            {"fn_name": "lcs", "args": ["abc", "def"], "expected": 0},
            {"fn_name": "lcs", "args": ["axbycz", "abc"], "expected": 3},
        ],
        "correct": [
            "def lcs(a, b):\n"
            "    prev = [0] * (len(b) + 1)\n"
            "    for x in a:\n"
            "        cur = [0]\n"
            "        for j, y in enumerate(b):\n"
            "            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))\n"
            "        prev = cur\n"
            "    return prev[-1]\n",
        ],
        "wrong": [
            # longest common *substring*
            (
                "def lcs(a, b):\n    best = 0\n    for i in range(len(a)):\n        for j in range(i + 1, len(a) + 1):\n"
                "            if a[i:j] in b:\n                best = max(best, j - i)\n    return best\n",
                True,
            ),
        ],
    },
    {
        "name": "primality_queries",
        "checker": "exact",
        "tests": [
            {"input": "4\n2\n4\n17\n1\n", "output": "YES\nNO\nYES\nNO\n"},
            {"input": "3\n97\n100\n3\n", "output": "YES\nNO\nYES\n"},
            {"input": "2\n1000000007\n1000000008\n", "output": "YES\nNO\n"},
        ],
        "correct": [
            "import sys\n"
            "def prime(n):\n"
            "    if n < 2:\n        return False\n"
            "    i = 2\n"
            "    while i * i <= n:\n"
            "        if n % i == 0:\n            return False\n"
            "        i += 1\n"
            "    return True\n"
            "qs = sys.stdin.read().split()[1:]\n"
            "sys.stdout.write(''.join('YES\\n' if prime(int(q)) else 'NO\\n' for q in qs))\n",
        ],
        "wrong": [
            # 1 is not prime
            (
                "def prime(n):\n    return all(n % d for d in range(2, int(n ** 0.5) + 1))\n"
                "for _ in range(int(input())):\n    print('YES' if prime(int(input())) else 'NO')\n",
                True,
            ),
            # answers in lower case: exact and case-sensitive checkers reject it
            (
                "def prime(n):\n    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))\n"
                "for _ in range(int(input())):\n    print('yes' if prime(int(input())) else 'no')\n",
                False,
            ),
        ],
    },
    {
        "name": "rotate_matrix",
        "checker": "exact",
        "tests": [
            {"input": "2 2\n1 2\n3 4\n", "output": "3 1\n4 2\n"},
            {"input": "2 3\n1 2 3\n4 5 6\n", "output": "4 1\n5 2\n6 3\n"},
            {"input": "1 1\n9\n", "output": "9\n"},
        ],
        "correct": [
            "h, w = map(int, input().split())\nm = [input().split() for _ in range(h)]\n"
            "for row in zip(*m[::-1]):\n    print(' '.join(row))\n",
        ],
        "wrong": [
            # rotates counter-clockwise
            (
                "h, w = map(int, input().split())\nm = [input().split() for _ in range(h)]\n"
                "for row in list(zip(*m))[::-1]:\n    print(' '.join(row))\n",
                True,
            ),
        ],
    },
    {
        "name": "word_frequency",
        "checker": "exact",
        "tests": [
            {"input": "b a b c a b\n", "output": "b 3\na 2\nc 1\n"},
            {"input": "z y x\n", "output": "x 1\ny 1\nz 1\n"},
            {"input": "hello\n", "output": "hello 1\n"},
        ],
        "correct": [
            "from collections import Counter\nc = Counter(input().split())\n"
            "for w, k in sorted(c.items(), key=lambda t: (-t[1], t[0])):\n    print(w, k)\n",
        ],
        "wrong": [
            # ties keep first-seen order instead of alphabetical
            (
                "from collections import Counter\nfor w, k in Counter(input().split()).most_common():\n    print(w, k)\n",
                True,
            ),
        ],
    },
    {
        "name": "search_insert",
        "checker": "tokens",
        "tests": [
            {"fn_name": "searchInsert", "args": {"nums": [1, 3, 5, 6], "target": 5}, "expected": 2},
            {"fn_name": "searchInsert", "args": [[1, 3, 5, 6], 2], "expected": 1},
            {"fn_name": "searchInsert", "args": [[1, 3, 5, 6], 7], "expected": 4},
            {"fn_name": "searchInsert", "args": [[1, 3, 5, 6], 0], "expected": 0},
        ],
        "correct": [
            "import bisect\nclass Solution:\n    def searchInsert(self, nums, target):\n"
            "        return bisect.bisect_left(nums, target)\n",
        ],
        "wrong": [
            # binary search whose hi starts at len - 1: never answers len(nums)
            (
                "def searchInsert(nums, target):\n    lo, hi = 0, len(nums) - 1\n    while lo < hi:\n"
                "        mid = (lo + hi) // 2\n        if nums[mid] < target:\n            lo = mid + 1\n"
                "        else:\n            hi = mid\n    return lo\n",
                True,
            ),
        ],
    },
]
