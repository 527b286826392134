"""Generate the shipped code problem set: small Python tasks with tests, most of them very easy.

    python data/make_code.py             # writes data/code/{train,test,judged}.jsonl

63 stdin/stdout problems ("read two integers and print their sum") and 32 call-based ones
("write ``add(a, b)``"), each with several tests in the format ``verifiers.code`` reads:
``{"input", "output"}`` for stdin/stdout, ``{"fn_name", "args", "expected"}`` for a call. Most
are easy enough that a 135M-parameter model sometimes solves them; some are medium (FizzBuzz,
primes, run-length encoding, two-sum). Each problem's reference solution lives here, not in the
JSONL: the expected outputs are what the reference prints or returns on the listed inputs, and
tests/factory/test_data.py runs every reference through the real sandbox. The output is
deterministic, so the files can be regenerated and compared byte for byte.

Rows: ``id``, ``problem`` (the statement a model sees), ``tests``, ``domain`` (``code``),
``family`` (``stdio`` or ``call``) and ``level`` (``easy`` or ``medium``).

``judged.jsonl`` holds 4 assert-script problems (``family: script``: HumanEval-, MBPP- and
KodCode-style tests) and 3 problems with many right answers judged by a checker program
(``family: checker``); their ``tests`` is the object form ``{"tests": [...], "checker_program":
...}``. recipes/demo/code-judged.yaml samples them.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import sys
from pathlib import Path
from typing import Any

from make_math import write_splits  # data/ is the script's own folder

# (id, level, statement, reference solution, stdin of each test)
STDIO: list[tuple[str, str, str, str, list[str]]] = [
    ("sum_two", "easy", "Read two integers a and b from one line, separated by a space, and print a + b.",
     "a, b = map(int, input().split())\nprint(a + b)\n", ["1 2", "40 2", "-5 5", "100 250"]),
    ("difference", "easy", "Read two integers a and b from one line, separated by a space, and print a - b.",
     "a, b = map(int, input().split())\nprint(a - b)\n", ["5 3", "2 9", "0 0", "-4 -10"]),
    ("product", "easy", "Read two integers a and b from one line, separated by a space, and print their product.",
     "a, b = map(int, input().split())\nprint(a * b)\n", ["3 4", "7 0", "-2 8", "12 12"]),
    ("reverse_string", "easy", "Read one line of text and print it reversed.",
     "print(input()[::-1])\n", ["hello", "abc", "racecar", "Python 3"]),
    ("count_vowels", "easy", "Read one line of text and print how many vowels (a, e, i, o, u, in either case) it contains.",
     "print(sum(c in 'aeiouAEIOU' for c in input()))\n", ["hello world", "AEIOU", "rhythm", "Programming is fun"]),
    ("uppercase", "easy", "Read one line of text and print it in upper case.",
     "print(input().upper())\n", ["hello", "Mixed Case", "abc123"]),
    ("string_length", "easy", "Read one line of text and print the number of characters in it.",
     "print(len(input()))\n", ["hello", "a", "two words", "1234567890"]),
    ("max_of_two", "easy", "Read two integers from one line, separated by a space, and print the larger one.",
     "a, b = map(int, input().split())\nprint(max(a, b))\n", ["3 7", "10 2", "-1 -5", "4 4"]),
    ("min_of_three", "easy", "Read three integers from one line, separated by spaces, and print the smallest.",
     "print(min(map(int, input().split())))\n", ["3 1 2", "5 5 5", "-7 0 7", "10 20 -30"]),
    ("even_or_odd", "easy", "Read an integer n and print even if it is even, odd otherwise.",
     "print('even' if int(input()) % 2 == 0 else 'odd')\n", ["4", "7", "0", "-3"]),
    ("square", "easy", "Read an integer n and print n squared.",
     "n = int(input())\nprint(n * n)\n", ["3", "0", "-4", "25"]),
    ("hello_name", "easy", "Read a name and print Hello, followed by the name and an exclamation mark, like Hello, Sam!",
     "print(f'Hello, {input()}!')\n", ["Sam", "Ada", "World"]),
    ("sum_to_n", "easy", "Read a positive integer n and print the sum 1 + 2 + ... + n.",
     "n = int(input())\nprint(n * (n + 1) // 2)\n", ["1", "4", "10", "100"]),
    ("factorial", "easy", "Read an integer n (0 <= n <= 20) and print n factorial.",
     "import math\nprint(math.factorial(int(input())))\n", ["0", "1", "5", "10", "20"]),
    ("count_words", "easy", "Read one line of text and print how many words it has (words are separated by spaces).",
     "print(len(input().split()))\n", ["hello world", "one", "the quick brown fox", "a b c d e"]),
    ("first_char", "easy", "Read a non-empty line of text and print its first character.",
     "print(input()[0])\n", ["hello", "Zebra", "42"]),
    ("repeat_string", "easy", "Read a word on the first line and an integer k on the second, and print the word repeated k times with nothing in between.",
     "s = input()\nk = int(input())\nprint(s * k)\n", ["ab\n3", "x\n1", "hi\n4"]),
    ("is_palindrome", "easy", "Read a word and print yes if it reads the same backwards, no otherwise.",
     "s = input()\nprint('yes' if s == s[::-1] else 'no')\n", ["racecar", "hello", "a", "abba", "abca"]),
    ("minutes_to_hours", "easy", "Read a number of minutes m and print the hours and the remaining minutes, separated by a space.",
     "m = int(input())\nprint(m // 60, m % 60)\n", ["125", "60", "59", "0"]),
    ("absolute_value", "easy", "Read an integer and print its absolute value.",
     "print(abs(int(input())))\n", ["-5", "5", "0", "-120"]),
    ("sum_of_list", "easy", "The first line holds n, the second n integers separated by spaces. Print their sum.",
     "input()\nprint(sum(map(int, input().split())))\n", ["3\n1 2 3", "1\n-7", "5\n10 20 30 40 50"]),
    ("max_of_list", "easy", "The first line holds n, the second n integers separated by spaces. Print the largest.",
     "input()\nprint(max(map(int, input().split())))\n", ["3\n1 5 3", "1\n-7", "4\n-1 -2 -3 -4"]),
    ("average_floor", "easy", "The first line holds n, the second n integers separated by spaces. Print their sum divided by n, rounded down.",
     "n = int(input())\nprint(sum(map(int, input().split())) // n)\n", ["3\n1 2 3", "2\n1 2", "4\n10 10 10 11"]),
    ("count_char", "easy", "Read a line of text, then a single character on the next line. Print how many times the character appears in the text.",
     "s = input()\nc = input()\nprint(s.count(c))\n", ["banana\na", "hello\nz", "mississippi\ns"]),
    ("multiples", "easy", "Read an integer n and print its first five multiples (n, 2n, ..., 5n) on one line, separated by spaces.",
     "n = int(input())\nprint(*(n * i for i in range(1, 6)))\n", ["3", "1", "10", "-2"]),
    ("count_digits", "easy", "Read a non-negative integer and print how many digits it has.",
     "print(len(input().strip()))\n", ["0", "7", "12345", "1000000"]),
    ("sum_digits", "easy", "Read a non-negative integer and print the sum of its digits.",
     "print(sum(int(d) for d in input().strip()))\n", ["0", "123", "9999", "1001"]),
    ("last_digit", "easy", "Read a non-negative integer and print its last digit.",
     "print(int(input()) % 10)\n", ["123", "7", "40", "99999"]),
    ("divisible_by_three", "easy", "Read an integer and print yes if it is divisible by 3, no otherwise.",
     "print('yes' if int(input()) % 3 == 0 else 'no')\n", ["9", "10", "0", "-6", "7"]),
    ("leap_year", "easy", "Read a year and print yes if it is a leap year (divisible by 4, except centuries not divisible by 400), no otherwise.",
     "y = int(input())\nprint('yes' if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else 'no')\n",
     ["2024", "2023", "1900", "2000"]),
    ("count_up", "easy", "Read a positive integer n and print the numbers 1 to n, one per line.",
     "for i in range(1, int(input()) + 1):\n    print(i)\n", ["3", "1", "5"]),
    ("countdown", "easy", "Read a positive integer n and print n, n-1, ..., 1 on one line, separated by spaces.",
     "print(*range(int(input()), 0, -1))\n", ["3", "1", "6"]),
    ("swap_words", "easy", "Read two words from one line, separated by a space, and print them in the opposite order.",
     "a, b = input().split()\nprint(b, a)\n", ["hello world", "a b", "first second"]),
    ("remove_spaces", "easy", "Read one line of text and print it with every space removed.",
     "print(input().replace(' ', ''))\n", ["a b c", "no spaces", "  lots   of   space  "]),
    ("divmod", "easy", "Read two positive integers a and b from one line and print a divided by b rounded down, and the remainder, separated by a space.",
     "a, b = map(int, input().split())\nprint(a // b, a % b)\n", ["7 2", "10 5", "3 7", "100 9"]),
    ("join_lines", "easy", "Read two lines of text and print them on one line, joined by a single space.",
     "a = input()\nb = input()\nprint(a + ' ' + b)\n", ["hello\nworld", "a\nb", "good\nmorning"]),
    ("double_each", "easy", "The first line holds n, the second n integers separated by spaces. Print each integer doubled, on one line, separated by spaces.",
     "input()\nprint(*(2 * int(x) for x in input().split()))\n", ["3\n1 2 3", "1\n0", "4\n-1 5 10 7"]),
    ("cube", "easy", "Read an integer n and print n cubed.",
     "n = int(input())\nprint(n ** 3)\n", ["2", "-3", "0", "10"]),
    ("rectangle_area", "easy", "Read the width and height of a rectangle (two integers on one line) and print its area.",
     "w, h = map(int, input().split())\nprint(w * h)\n", ["3 4", "1 1", "10 7"]),
    ("lowercase", "easy", "Read one line of text and print it in lower case.",
     "print(input().lower())\n", ["HELLO", "Mixed Case", "ABC123"]),
    ("count_positive", "easy", "The first line holds n, the second n integers separated by spaces. Print how many are greater than zero.",
     "input()\nprint(sum(int(x) > 0 for x in input().split()))\n", ["4\n1 -2 3 0", "1\n-5", "3\n7 8 9"]),
    ("fizzbuzz", "medium", "Read n and print the numbers 1 to n, one per line, but print Fizz for multiples of 3, Buzz for multiples of 5 and FizzBuzz for multiples of both.",
     "for i in range(1, int(input()) + 1):\n    print('FizzBuzz' if i % 15 == 0 else 'Fizz' if i % 3 == 0 else 'Buzz' if i % 5 == 0 else i)\n",
     ["5", "15", "1"]),
    ("primes_up_to", "medium", "Read n and print every prime number up to and including n on one line, separated by spaces (print nothing if there are none).",
     "n = int(input())\nprint(*(p for p in range(2, n + 1) if all(p % d for d in range(2, int(p ** 0.5) + 1))))\n",
     ["10", "2", "30", "1"]),
    ("is_prime", "medium", "Read a positive integer and print yes if it is prime, no otherwise.",
     "n = int(input())\nprint('yes' if n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1)) else 'no')\n",
     ["7", "1", "2", "15", "97"]),
    ("gcd", "medium", "Read two positive integers from one line and print their greatest common divisor.",
     "import math\na, b = map(int, input().split())\nprint(math.gcd(a, b))\n", ["12 18", "7 13", "100 75", "9 9"]),
    ("lcm", "medium", "Read two positive integers from one line and print their least common multiple.",
     "import math\na, b = map(int, input().split())\nprint(a * b // math.gcd(a, b))\n", ["4 6", "7 13", "10 15", "5 5"]),
    ("fibonacci", "medium", "Read n (0 <= n <= 50) and print the n-th Fibonacci number, where F(0) = 0 and F(1) = 1.",
     "a, b = 0, 1\nfor _ in range(int(input())):\n    a, b = b, a + b\nprint(a)\n", ["0", "1", "10", "50"]),
    ("sort_numbers", "medium", "The first line holds n, the second n integers separated by spaces. Print them sorted from smallest to largest, on one line.",
     "input()\nprint(*sorted(map(int, input().split())))\n", ["3\n3 1 2", "1\n5", "5\n9 -1 4 4 0"]),
    ("second_largest", "medium", "The first line holds n, the second n integers with at least two different values. Print the second largest distinct value.",
     "input()\nprint(sorted(set(map(int, input().split())))[-2])\n", ["3\n1 2 3", "4\n5 5 4 1", "2\n-1 -2"]),
    ("count_distinct", "medium", "The first line holds n, the second n integers separated by spaces. Print how many distinct values there are.",
     "input()\nprint(len(set(input().split())))\n", ["5\n1 2 2 3 3", "1\n7", "4\n9 9 9 9"]),
    ("to_binary", "medium", "Read a non-negative integer and print it in binary, without leading zeros.",
     "print(bin(int(input()))[2:])\n", ["5", "0", "8", "255"]),
    ("from_binary", "medium", "Read a binary number (a string of 0s and 1s) and print its value in decimal.",
     "print(int(input(), 2))\n", ["101", "0", "11111111", "1000"]),
    ("word_frequency", "medium", "Read one line of words separated by spaces. For each distinct word, in order of first appearance, print the word and how many times it occurs, separated by a space, one word per line.",
     "words = input().split()\nfor w in dict.fromkeys(words):\n    print(w, words.count(w))\n",
     ["a b a", "one", "the cat and the hat"]),
    ("anagrams", "medium", "Read two words on one line, separated by a space, and print yes if they are anagrams of each other, no otherwise.",
     "a, b = input().split()\nprint('yes' if sorted(a) == sorted(b) else 'no')\n", ["listen silent", "abc abd", "a a", "rat tar"]),
    ("caesar", "medium", "The first line holds a shift k (0 <= k <= 25), the second a line of lowercase letters and spaces. Shift every letter k places forward in the alphabet (z wraps to a) and print the result; spaces stay.",
     "k = int(input())\nprint(''.join(chr((ord(c) - 97 + k) % 26 + 97) if c != ' ' else c for c in input()))\n",
     ["1\nabc", "3\nxyz", "0\nhello world", "13\nhello"]),
    ("run_length", "medium", "Read a non-empty string of letters and print its run-length encoding: each run of equal letters as the letter followed by the run's length, e.g. aaabcc becomes a3b1c2.",
     "import itertools\nprint(''.join(c + str(len(list(g))) for c, g in itertools.groupby(input())))\n",
     ["aaabcc", "a", "abcd", "zzzzzzzzzz"]),
    ("matrix_sum", "medium", "The first line holds r and c; then r lines of c integers follow. Print the sum of all the integers.",
     "r, c = map(int, input().split())\nprint(sum(sum(map(int, input().split())) for _ in range(r)))\n",
     ["2 2\n1 2\n3 4", "1 3\n5 5 5", "3 1\n-1\n0\n1"]),
    ("transpose", "medium", "The first line holds r and c; then r lines of c integers follow. Print the transposed matrix: c lines of r integers separated by spaces.",
     "r, c = map(int, input().split())\nm = [input().split() for _ in range(r)]\nfor row in zip(*m):\n    print(*row)\n",
     ["2 3\n1 2 3\n4 5 6", "1 1\n7", "3 2\n1 2\n3 4\n5 6"]),
    ("longest_word", "medium", "Read one line of words separated by spaces and print the longest word (the first one if several are equally long).",
     "print(max(input().split(), key=len))\n", ["the quick brown fox", "a bb cc", "hello"]),
    ("collatz_steps", "medium", "Read a positive integer n. Repeatedly replace n by n / 2 if it is even and by 3n + 1 if it is odd. Print how many steps it takes to reach 1.",
     "n = int(input())\nsteps = 0\nwhile n != 1:\n    n = n // 2 if n % 2 == 0 else 3 * n + 1\n    steps += 1\nprint(steps)\n",
     ["1", "6", "7", "27"]),
    ("balanced_brackets", "medium", "Read a line made of the characters ()[]{} and print yes if the brackets are balanced and properly nested, no otherwise.",
     "s = input().strip()\nstack = []\nok = True\nfor ch in s:\n    if ch in '([{':\n        stack.append(ch)\n"
     "    elif not stack or '([{'[')]}'.index(ch)] != stack.pop():\n        ok = False\n        break\n"
     "print('yes' if ok and not stack else 'no')\n",
     ["()[]{}", "([)]", "((()))", "(", "{[()]}"]),
    ("digital_root", "medium", "Read a non-negative integer and print its digital root: add its digits, and repeat on the result until one digit is left.",
     "n = int(input())\nwhile n >= 10:\n    n = sum(int(d) for d in str(n))\nprint(n)\n", ["0", "38", "9999", "123456789"]),
    ("pascal_row", "medium", "Read n (0 <= n <= 20) and print row n of Pascal's triangle on one line, separated by spaces (row 0 is 1).",
     "import math\nn = int(input())\nprint(*(math.comb(n, k) for k in range(n + 1)))\n", ["0", "1", "4", "10"]),
]

# (function name, level, statement, reference solution, arguments of each test)
CALL: list[tuple[str, str, str, str, list[list[Any]]]] = [
    ("add", "easy", "Write a Python function add(a, b) that returns the sum of the integers a and b.",
     "def add(a, b):\n    return a + b\n", [[1, 2], [-3, 3], [100, 250], [0, 0]]),
    ("is_even", "easy", "Write a Python function is_even(n) that returns True if the integer n is even and False otherwise.",
     "def is_even(n):\n    return n % 2 == 0\n", [[4], [7], [0], [-2]]),
    ("reverse", "easy", "Write a Python function reverse(s) that returns the string s reversed.",
     "def reverse(s):\n    return s[::-1]\n", [["hello"], [""], ["ab"], ["racecar"]]),
    ("count_vowels", "easy", "Write a Python function count_vowels(s) that returns how many vowels (a, e, i, o, u, in either case) the string s contains.",
     "def count_vowels(s):\n    return sum(c in 'aeiouAEIOU' for c in s)\n", [["hello"], ["AEIOU"], ["xyz"], ["Programming"]]),
    ("maximum", "easy", "Write a Python function maximum(nums) that returns the largest number in the non-empty list nums.",
     "def maximum(nums):\n    return max(nums)\n", [[[1, 5, 3]], [[-1, -2]], [[7]], [[2, 2, 9, 2]]]),
    ("sum_list", "easy", "Write a Python function sum_list(nums) that returns the sum of the numbers in the list nums (0 for an empty list).",
     "def sum_list(nums):\n    return sum(nums)\n", [[[1, 2, 3]], [[]], [[-5, 5]], [[10, 20, 30, 40]]]),
    ("square", "easy", "Write a Python function square(n) that returns n squared.",
     "def square(n):\n    return n * n\n", [[3], [0], [-4], [12]]),
    ("first_element", "easy", "Write a Python function first_element(items) that returns the first element of the non-empty list items.",
     "def first_element(items):\n    return items[0]\n", [[[1, 2, 3]], [["a"]], [[[5], 6]]]),
    ("last_element", "easy", "Write a Python function last_element(items) that returns the last element of the non-empty list items.",
     "def last_element(items):\n    return items[-1]\n", [[[1, 2, 3]], [["a"]], [[5, [6]]]]),
    ("string_length", "easy", "Write a Python function string_length(s) that returns the number of characters in the string s.",
     "def string_length(s):\n    return len(s)\n", [["hello"], [""], ["two words"]]),
    ("to_upper", "easy", "Write a Python function to_upper(s) that returns the string s in upper case.",
     "def to_upper(s):\n    return s.upper()\n", [["hello"], ["Mixed Case"], ["abc123"]]),
    ("is_positive", "easy", "Write a Python function is_positive(n) that returns True if n is greater than zero and False otherwise.",
     "def is_positive(n):\n    return n > 0\n", [[5], [0], [-3], [1]]),
    ("double_all", "easy", "Write a Python function double_all(nums) that returns a new list with every number in nums doubled.",
     "def double_all(nums):\n    return [2 * x for x in nums]\n", [[[1, 2, 3]], [[]], [[-1, 0, 5]]]),
    ("count_occurrences", "easy", "Write a Python function count_occurrences(items, x) that returns how many times x appears in the list items.",
     "def count_occurrences(items, x):\n    return items.count(x)\n", [[[1, 2, 1, 1], 1], [[], 3], [["a", "b"], "b"], [[1, 2], 5]]),
    ("join_words", "easy", "Write a Python function join_words(words) that returns the strings in the list words joined by single spaces.",
     "def join_words(words):\n    return ' '.join(words)\n", [[["hello", "world"]], [["one"]], [["a", "b", "c"]]]),
    ("average", "easy", "Write a Python function average(nums) that returns the mean of the non-empty list of numbers nums.",
     "def average(nums):\n    return sum(nums) / len(nums)\n", [[[1, 2, 3]], [[1, 2]], [[10]], [[-4, 4, 3]]]),
    ("min_max", "easy", "Write a Python function min_max(nums) that returns a list [smallest, largest] of the non-empty list nums.",
     "def min_max(nums):\n    return [min(nums), max(nums)]\n", [[[3, 1, 2]], [[5]], [[-1, 7, 0]]]),
    ("capitalize_first", "easy", "Write a Python function capitalize_first(s) that returns the non-empty string s with its first character in upper case and the rest unchanged.",
     "def capitalize_first(s):\n    return s[0].upper() + s[1:]\n", [["hello"], ["a"], ["python Rocks"]]),
    ("is_palindrome", "medium", "Write a Python function is_palindrome(s) that returns True if s reads the same forwards and backwards when case and every non-alphanumeric character are ignored, False otherwise.",
     "def is_palindrome(s):\n    t = [c.lower() for c in s if c.isalnum()]\n    return t == t[::-1]\n",
     [["Racecar"], ["A man, a plan, a canal: Panama"], ["hello"], [""]]),
    ("fibonacci", "medium", "Write a Python function fibonacci(n) that returns the n-th Fibonacci number, where fibonacci(0) = 0 and fibonacci(1) = 1.",
     "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n", [[0], [1], [10], [30]]),
    ("factorial", "medium", "Write a Python function factorial(n) that returns n factorial for an integer n >= 0.",
     "def factorial(n):\n    out = 1\n    for i in range(2, n + 1):\n        out *= i\n    return out\n", [[0], [1], [5], [12]]),
    ("gcd", "medium", "Write a Python function gcd(a, b) that returns the greatest common divisor of two positive integers.",
     "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n", [[12, 18], [7, 13], [100, 75], [9, 9]]),
    ("primes_below", "medium", "Write a Python function primes_below(n) that returns the list of all primes smaller than n, in increasing order.",
     "def primes_below(n):\n    return [p for p in range(2, n) if all(p % d for d in range(2, int(p ** 0.5) + 1))]\n",
     [[10], [2], [30], [3]]),
    ("flatten", "medium", "Write a Python function flatten(lists) that returns the concatenation of a list of lists, in order.",
     "def flatten(lists):\n    return [x for sub in lists for x in sub]\n", [[[[1, 2], [3]]], [[]], [[[], [4], [5, 6]]]]),
    ("remove_duplicates", "medium", "Write a Python function remove_duplicates(items) that returns the list items without repeated elements, keeping the first occurrence of each in order.",
     "def remove_duplicates(items):\n    out = []\n    for x in items:\n        if x not in out:\n            out.append(x)\n    return out\n",
     [[[1, 2, 1, 3, 2]], [[]], [["a", "a"]], [[3, 2, 1]]]),
    ("word_count", "medium", "Write a Python function word_count(s) that returns a dict mapping each word of the string s (words are separated by spaces) to how many times it occurs.",
     "def word_count(s):\n    out = {}\n    for w in s.split():\n        out[w] = out.get(w, 0) + 1\n    return out\n",
     [["a b a"], ["one"], ["the cat and the hat"]]),
    ("two_sum", "medium", "Write a Python function two_sum(nums, target) that returns the indices [i, j] with i < j of the only two numbers in nums that add up to target.",
     "def two_sum(nums, target):\n    seen = {}\n    for j, x in enumerate(nums):\n        if target - x in seen:\n            return [seen[target - x], j]\n        seen[x] = j\n",
     [[[2, 7, 11, 15], 9], [[3, 2, 4], 6], [[1, 5, 3, 8], 13]]),
    ("merge_sorted", "medium", "Write a Python function merge_sorted(a, b) that merges two sorted lists into one sorted list.",
     "def merge_sorted(a, b):\n    return sorted(a + b)\n", [[[1, 3, 5], [2, 4]], [[], [1]], [[1, 1], [1]]]),
    ("binary_search", "medium", "Write a Python function binary_search(nums, target) that returns the index of target in the sorted list nums of distinct numbers, or -1 if it is not there.",
     "def binary_search(nums, target):\n    lo, hi = 0, len(nums) - 1\n    while lo <= hi:\n        mid = (lo + hi) // 2\n"
     "        if nums[mid] == target:\n            return mid\n        if nums[mid] < target:\n            lo = mid + 1\n"
     "        else:\n            hi = mid - 1\n    return -1\n",
     [[[1, 3, 5, 7], 5], [[1, 3, 5, 7], 4], [[], 1], [[2], 2]]),
    ("rotate_right", "medium", "Write a Python function rotate_right(items, k) that returns the list items rotated k places to the right (k may be larger than the length).",
     "def rotate_right(items, k):\n    if not items:\n        return []\n    k %= len(items)\n    return items[-k:] + items[:-k]\n",
     [[[1, 2, 3, 4], 1], [[1, 2, 3], 3], [[], 2], [[1, 2, 3], 5]]),
    ("char_counts", "medium", "Write a Python function char_counts(s) that returns a dict mapping each character of the string s to how many times it occurs.",
     "def char_counts(s):\n    out = {}\n    for c in s:\n        out[c] = out.get(c, 0) + 1\n    return out\n",
     [["banana"], [""], ["abc"]]),
    ("is_anagram", "medium", "Write a Python function is_anagram(a, b) that returns True if the strings a and b contain the same letters the same number of times, False otherwise.",
     "def is_anagram(a, b):\n    return sorted(a) == sorted(b)\n", [["listen", "silent"], ["abc", "abd"], ["", ""], ["aab", "abb"]]),
]


# Assert-script problems (tests ``{"script": ...}``, verifiers.script_tests): HumanEval's
# check(candidate), MBPP's assert lines and KodCode's pytest functions.
# (function name, statement, reference solution, the test script)
SCRIPT: list[tuple[str, str, str, str]] = [
    ("is_palindrome", "Write a Python function is_palindrome(s) that returns True if the string s reads the same "
     "forwards and backwards, and False otherwise.",
     "def is_palindrome(s):\n    return s == s[::-1]\n",
     "def check(candidate):\n    assert candidate('racecar') is True\n    assert candidate('ab') is False\n"
     "    assert candidate('') is True\n    assert candidate('abba') is True\n\ncheck(is_palindrome)\n"),
    ("count_evens", "Write a Python function count_evens(nums) that returns how many numbers in the list nums are "
     "even.",
     "def count_evens(nums):\n    return sum(1 for n in nums if n % 2 == 0)\n",
     "assert count_evens([1, 2, 3, 4]) == 2\nassert count_evens([]) == 0\nassert count_evens([-2, 7, 0]) == 2\n"),
    ("clamp", "Write a Python function clamp(x, low, high) that returns x limited to the range from low to high.",
     "def clamp(x, low, high):\n    return max(low, min(x, high))\n",
     "import pytest\nfrom solution import clamp\n\n\n"
     "@pytest.mark.parametrize('x, expected', [(5, 5), (-3, 0), (42, 10)])\n"
     "def test_clamp(x, expected):\n    assert clamp(x, 0, 10) == expected\n\n\ndef test_edges():\n"
     "    assert clamp(0, 0, 10) == 0 and clamp(10, 0, 10) == 10\n"),
    ("mean", "Write a Python function mean(nums) that returns the average of a non-empty list of numbers.",
     "def mean(nums):\n    return sum(nums) / len(nums)\n",
     "import math\n\ndef check(candidate):\n    assert math.isclose(candidate([1, 2, 3, 4]), 2.5)\n"
     "    assert candidate([7]) == 7\n    assert math.isclose(candidate([0.1, 0.2]), 0.15)\n\ncheck(mean)\n"),
]

# Problems with many right answers, judged by a checker program (verifiers.checker_programs; its
# argv: input, expected, actual). (id, statement, reference solution, stdin of each test, checker)
CHECKED: list[tuple[str, str, str, list[str], str]] = [
    ("any_order", "Read an integer n and print the numbers 1 to n, separated by spaces, in any order.",
     "n = int(input())\nprint(*range(1, n + 1))\n", ["1", "3", "6"],
     "import sys\nn = int(open(sys.argv[1]).read())\nactual = open(sys.argv[3]).read().split()\n"
     "sys.exit(0 if sorted(actual) == sorted(str(i) for i in range(1, n + 1)) else 1)\n"),
    ("two_summands", "Read an integer n (n >= 2) and print two positive integers a and b, separated by a space, "
     "such that a + b = n. Any such pair is accepted.",
     "n = int(input())\nprint(1, n - 1)\n", ["2", "10", "99"],
     "import sys\nn = int(open(sys.argv[1]).read())\ntry:\n    a, b = map(int, open(sys.argv[3]).read().split())\n"
     "except ValueError:\n    sys.exit(1)\nsys.exit(0 if a > 0 and b > 0 and a + b == n else 1)\n"),
    ("a_divisor", "Read an integer n (n >= 2) and print any divisor of n that is greater than 1.",
     "n = int(input())\nprint(n)\n", ["2", "12", "49"],
     "import sys\nn = int(open(sys.argv[1]).read())\ntext = open(sys.argv[3]).read().split()\n"
     "ok = len(text) == 1 and text[0].isdigit() and 1 < int(text[0]) <= n and n % int(text[0]) == 0\n"
     "sys.exit(0 if ok else 1)\n"),
]


def run_stdio(solution: str, stdin: str) -> str:
    """What ``solution`` prints when given ``stdin`` (run here, in this process: it is our own code)."""
    out = io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(solution, "<reference>", "exec"), {"__name__": "__main__"})
    finally:
        sys.stdin = old_stdin
    return out.getvalue()


def run_call(solution: str, fn_name: str, args: list[Any]) -> Any:
    """What ``fn_name(*args)`` returns under ``solution``, as the JSON value a test expects."""
    namespace: dict[str, Any] = {}
    exec(compile(solution, "<reference>", "exec"), namespace)
    return json.loads(json.dumps(namespace[fn_name](*args)))


def references() -> dict[str, str]:
    """Problem id -> reference solution."""
    return ({f"stdio-{name}": sol for name, _, _, sol, _ in STDIO}
            | {f"call-{name}": sol for name, _, _, sol, _ in CALL}
            | {f"script-{name}": sol for name, _, sol, _ in SCRIPT}
            | {f"checker-{name}": sol for name, _, sol, _, _ in CHECKED})


def judged() -> list[dict]:
    """The ``judged`` split: assert-script problems and problems judged by a checker program.

    A problem's ``tests`` is then the object ``verifiers.code.parse_problem`` reads; the expected
    output of a checked problem is the reference's (one right answer among many).
    """
    rows = []
    for name, statement, _, script in SCRIPT:
        rows.append({"id": f"script-{name}", "problem": statement, "tests": {"tests": [{"script": script}]},
                     "domain": "code", "family": "script", "level": "easy"})
    for name, statement, solution, inputs, checker in CHECKED:
        tests = [{"input": i + "\n", "output": run_stdio(solution, i + "\n")} for i in inputs]
        rows.append({"id": f"checker-{name}", "problem": statement + " Read from standard input and print to "
                     "standard output.", "tests": {"tests": tests, "checker_program": checker}, "domain": "code",
                     "family": "checker", "level": "easy"})
    return rows


def problems() -> list[dict]:
    rows = []
    for name, level, statement, solution, inputs in STDIO:
        tests = [{"input": i + "\n", "output": run_stdio(solution, i + "\n")} for i in inputs]
        rows.append({"id": f"stdio-{name}", "problem": statement + " Read from standard input and print to standard output.",
                     "tests": tests, "domain": "code", "family": "stdio", "level": level})
    for name, level, statement, solution, arg_lists in CALL:
        tests = [{"fn_name": name, "args": args, "expected": run_call(solution, name, args)} for args in arg_lists]
        rows.append({"id": f"call-{name}", "problem": statement, "tests": tests, "domain": "code", "family": "call",
                     "level": level})
    return rows


def splits() -> dict[str, list[dict]]:
    """The shipped ``train`` and ``test`` splits, exactly as written to ``data/code``."""
    rows = problems()
    random.Random(20261201).shuffle(rows)
    held_out = set(range(0, len(rows), 4))  # every 4th after the shuffle: 24 of 95 problems
    return {"train": [r for i, r in enumerate(rows) if i not in held_out],
            "test": [r for i, r in enumerate(rows) if i in held_out],
            "judged": judged()}  # apart, so that train and test stay as they were


def main() -> None:
    write_splits(Path(__file__).parent / "code", splits())


if __name__ == "__main__":
    main()
