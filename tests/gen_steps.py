#!/usr/bin/env python3
"""Deterministic generator of realistic OpenAI Assistants run steps
("object": "thread.run.step") for testing steparc.  Standard library only.

Usage:
  python3 tests/gen_steps.py --seed N --count N
         [--shape jsonl|array|list|pretty|sse] [--nasty] [--sse-final-only]

The records are a pure function of (seed, count, --nasty): every shape
carries the same records in the same order, so
    canon.py --records <any shape>  ==  canon.py --jsonl <jsonl shape>
except for --shape sse, which (like the live API) sends each finished step
twice: first an in_progress snapshot ("thread.run.step.created", sometimes
also "thread.run.step.in_progress"), then the final object
("thread.run.step.completed" / failed / cancelled / expired).  With
--sse-final-only each record is sent exactly once, so sse also matches.

Shapes:
  jsonl   one record per line; each record randomly ensure_ascii True/False
          and compact or default (", ", ": ") separators
  array   one JSON array holding all records
  list    list pages {"object":"list","data":[<=20],"first_id","last_id",
          "has_more"}, one page per line
  pretty  records pretty-printed with indent=2, concatenated
  sse     event-stream capture: step events plus thread.run.*,
          thread.message.*, thread.run.step.delta events, ": keep-alive"
          comments and a final "data: [DONE]" that a converter must ignore

Nasty mode (--nasty: every record; otherwise ~10% of records, chosen by the
seed) adds unknown keys at every level, unknown tool types, undocumented enum
values, expires_at/expired_at variants, metadata variants, usage variants,
absent-vs-null fields, hostile strings (escapes, control chars, NUL, U+2028,
DEL, astral emoji, combining marks), 64-bit/negative/ms timestamps, uint64,
odd floats and number spellings ("-0", "1E2", "1.50", ...), empty ids, long
strings (up to ~100 KB, rarely) and nesting.  The total nesting depth of any
record is at most 18 (so <= 20 even inside a list page).  NaN/Infinity are
never produced and keys are never duplicated within an object.
"""

import argparse
import json
import random
import sys

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

T_START = 1699300000      # 2023-11-06, Assistants API launch
T_END = 1750000000        # 2025-06-15
T_USAGE = 1705536000      # 2024-01-18, usage added
T_V2 = 1713312000         # 2024-04-17, v2: file_search replaces retrieval
T_FS_DETAILS = 1724371200  # 2024-08-23, file_search ranking_options/results
T_2025 = 1735689600       # 2025-01-01, usage detail objects seen

TERMINAL = ("completed", "failed", "cancelled", "expired")
MAX_DEPTH = 18            # max container depth of one record (record = 1)

# --------------------------------------------------------------------------
# content pools (realistic)

CODE_SNIPPETS = [
    "import math\n\n# Calculate the square root of {n}\nsquare_root = math.sqrt({n})\nsquare_root",
    "import pandas as pd\n\ndf = pd.read_csv('/mnt/data/{fid}')\ndf.head()",
    "import pandas as pd\n\n# Load the uploaded file\nfile_path = '/mnt/data/{fid}'\ndata = pd.read_excel(file_path)\n\n# Display basic info\ndata.info()\ndata.describe()",
    "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n[fibonacci(i) for i in range({k})]",
    "import matplotlib.pyplot as plt\nimport numpy as np\n\nx = np.linspace(0, {k}, 500)\ny = np.sin(x) * np.exp(-x / {n})\n\nplt.figure(figsize=(10, 6))\nplt.plot(x, y, label='damped sine')\nplt.title('Damped oscillation')\nplt.xlabel('t (s)')\nplt.ylabel('amplitude')\nplt.legend()\nplt.grid(True)\nplt.show()",
    "# Solve the equation 3x + 11 = 14\nfrom sympy import symbols, Eq, solve\n\nx = symbols('x')\nequation = Eq(3*x + 11, 14)\nsolution = solve(equation, x)\nsolution",
    "monthly = df.groupby(df['date'].dt.to_period('M'))['amount'].sum()\nmonthly.plot(kind='bar', color='steelblue')\nplt.title(\"Monthly totals\")\nplt.tight_layout()\nplt.savefig('/mnt/data/monthly.png')\nmonthly.tail({k})",
    "with open('/mnt/data/{fid}', 'r', encoding='utf-8') as f:\n    text = f.read()\n\nwords = text.split()\nprint(len(words), 'words')\nprint(text[:{n}])",
    "import json\n\nresult = {{\n    \"mean\": float(df['value'].mean()),\n    \"median\": float(df['value'].median()),\n    \"std\": float(df['value'].std()),\n}}\nprint(json.dumps(result, indent=2))",
    "total = 0\nfor i in range(1, {n} + 1):\n    if i % 3 == 0 or i % 5 == 0:\n        total += i\nprint(f\"Sum of multiples of 3 or 5 below {n}: {{total}}\")",
    "import re\n\npattern = re.compile(r\"(\\d{{4}})-(\\d{{2}})-(\\d{{2}})\")\nmatches = pattern.findall(text)\nprint(matches[:{k}])",
    "# Compound interest\nprincipal = {n}\nrate = 0.0{k}\nyears = 10\namount = principal * (1 + rate) ** years\nround(amount, 2)",
    "import numpy as np\n\nA = np.array([[4, -2], [1, 1]])\neigenvalues, eigenvectors = np.linalg.eig(A)\nprint(\"Eigenvalues:\", eigenvalues)\nprint(\"Eigenvectors:\\n\", eigenvectors)",
    "df = df.dropna(subset=['price'])\ndf['price_per_m2'] = df['price'] / df['area']\ntop = df.sort_values('price_per_m2', ascending=False).head({k})\ntop[['city', 'price', 'area', 'price_per_m2']]",
    "class Inventory:\n    \"\"\"Simple inventory model.\"\"\"\n\n    def __init__(self):\n        self.items = {{}}\n\n    def add(self, name, qty):\n        self.items[name] = self.items.get(name, 0) + qty\n\n    def remove(self, name, qty):\n        if self.items.get(name, 0) < qty:\n            raise ValueError(f'not enough {{name}}')\n        self.items[name] -= qty\n\ninv = Inventory()\ninv.add('widget', {n})\ninv.remove('widget', {k})\ninv.items",
    "# Convert temperatures\ncelsius = [{k}, {n}, -40, 100]\nfahrenheit = [c * 9 / 5 + 32 for c in celsius]\nlist(zip(celsius, fahrenheit))",
]

LOG_TEMPLATES = [
    "{f}\n",
    "{n} words\n",
    "[0, 1, 1, 2, 3, 5, 8, 13, 21, 34]\n",
    "<class 'pandas.core.frame.DataFrame'>\nRangeIndex: {n} entries, 0 to {m}\nData columns (total 4 columns):\n #   Column  Non-Null Count  Dtype  \n---  ------  --------------  -----  \n 0   date    {n} non-null    object \n 1   city    {n} non-null    object \n 2   amount  {n} non-null    float64\n 3   qty     {n} non-null    int64  \ndtypes: float64(1), int64(1), object(2)\nmemory usage: 12.6+ KB\n",
    "{{\n  \"mean\": {f},\n  \"median\": {g},\n  \"std\": {h}\n}}\n",
    "Eigenvalues: [3. 2.]\nEigenvectors:\n [[0.89442719 0.70710678]\n [0.4472136  0.70710678]]\n",
    "Traceback (most recent call last):\n  File \"<stdin>\", line {k}, in <module>\nFileNotFoundError: [Errno 2] No such file or directory: '/mnt/data/{fid}'\n",
    "Sum of multiples of 3 or 5 below {n}: {m}\n",
    "        date      city   amount  qty\n0  2024-01-03    Lisboa  {f}    3\n1  2024-01-04     Porto   {g}    1\n2  2024-01-04  São Paulo  {h}    7\n",
    "KeyError: 'price'\n",
]

SENTENCES = [
    "The quarterly revenue increased by 12% compared to the same period last year.",
    "Employees are entitled to 25 days of paid leave per calendar year.",
    "All requests must be submitted through the internal portal at least two weeks in advance.",
    "The device must be charged for at least 8 hours before first use.",
    "Section 4.2 describes the procedure for handling customer complaints.",
    "O Professor Alexandre Morais da Rosa é um dos maiores expoentes do direito penal e processual penal.",
    "A decisão judicial deve ser fundamentada, sob pena de nulidade.",
    "Die Garantie gilt für zwei Jahre ab dem Kaufdatum.",
    "Bitte beachten Sie die Sicherheitshinweise in Kapitel 3.",
    "本製品は室温で保管してください。",
    "保修期为自购买之日起两年。",
    "La température de fonctionnement recommandée est comprise entre 5 °C et 35 °C.",
    "Results were averaged over 5 runs; the standard deviation was below 0.3.",
    "In 2023 the company opened offices in Berlin, Madrid and Tokyo.",
    "Refunds are processed within 14 business days.",
    "Table 3: Comparison of retrieval methods (recall@10).",
    "Note: this policy supersedes all previous versions.",
]

FILE_NAMES = [
    "employee_handbook.pdf", "Q3_2024_report.pdf", "product_manual_v2.docx",
    "faq.md", "sales_2023.csv", "contracts/master_services_agreement.pdf",
    "/home/ec2-user/cp-tools/app/assets/ai/temp/base-conhecimento-alexandre-morais-da-rosa-1.pdf.pdf",
    "/home/ec2-user/cp-tools/app/assets/ai/temp/base-artigos-conjur-alexandre-morais-da-rosa-1.txt",
    "製品マニュアル.pdf", "Relatório Anual 2024.pdf", "notes (1).txt", "policy-2025-01.json",
    "research_paper_retrieval_augmented_generation.pdf", "README.md",
]

MESSAGE_TEXTS = [
    "The square root of 139485 is approximately 373.48.",
    "According to the handbook, employees get 25 days of paid leave per year.",
    "The current temperature in Lima is 20°C with a 20% chance of rain.",
    "Here is the chart you asked for. Sales peaked in March.",
    "Não encontrei essa informação nos arquivos fornecidos.",
    "I couldn't find that in the attached files, but here is what I know: ",
    "結果は以下のとおりです。",
    "Let me know if you need anything else!",
]

ERRORS = [
    ("server_error", "Sorry, something went wrong."),
    ("server_error", "The server had an error processing your request. Sorry about that!"),
    ("rate_limit_exceeded", "Rate limit reached for gpt-4o in organization org-XXXX on tokens per min (TPM): Limit 30000, Used 29876, Requested 1544. Please try again in 2.84s."),
]

MODELS = ["gpt-4-1106-preview", "gpt-4-turbo", "gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo-0125"]

CITIES = ["San Francisco, CA", "Lima, Peru", "Boston, MA", "Tokyo, Japan", "São Paulo, Brazil",
          "Zürich, Switzerland", "Paris, France"]

# --------------------------------------------------------------------------
# nasty pools

NASTY_PIECES = [
    "plain", " ", "漢字テスト", "中文字符", "한국어", "😀", "🎉", "👨\u200d👩\u200d👧\u200d👦",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\U0010FFFF", "\U0001F600", "e\u0301", "a\u0308\u0323", "\u0301",
    "\"", "\\", "\n", "\t", "\b", "\f", "\r", "\r\n", "\x01", "\x1f", "\x00", "a\x00b",
    "\u2028", "\u2029", "\x7f", "\x80", "\u00a0", "\ufeff", "\uffff", "\ufffd", "/", "</script>",
    "\\u0000", "\\n", "\\\"", "'", "{", "}", "[", "]", ",", ":", "null", "true", "1e5",
    "Ω≈ç√∫", "ﷺ", "עברית", "العربية", "\u202e", "\u200b", "Zalgo: Z\u0351\u0308\u0324a\u0316\u0301",
]

NASTY_KEYS = [
    "x_request_id", "service_tier", "incomplete_details", "reasoning", "annotations", "citations",
    "attachments", "model", "tool_resources", "response_format", "parallel_tool_calls",
    "truncation_strategy", "prompt_token_details", "completion_tokens_details", "extra",
    "_internal", "azure_extension", "", " ", "ключ", "キー", "😀", "a\"b", "back\\slash",
    "nul\x00key", "line\nbreak", "tab\tkey", "\u2028", "del\x7f", "e\u0301", "𝔨𝔢𝔶",
    "type2", "ID", "Id", "object ", "k" * 200,
]

NASTY_INTS = [
    0, 1, -1, 2, 7, 255, 256, 65535, 2 ** 31 - 1, 2 ** 31, -2 ** 31, -2 ** 31 - 1, 2 ** 32 - 1,
    2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 1, 2 ** 63 - 1, -2 ** 63, 2 ** 64 - 1, 2 ** 63,
    1712909007434, 1712909007434123, 10 ** 18, -10 ** 18, 999999999999999999,
]

NASTY_FLOATS = [
    1.0, -0.0, 0.0, 1e-07, 1e+16, 1e15, 1e16, 1e17, 5e-324, 1.7976931348623157e308,
    -1.7976931348623157e308, 2.2250738585072014e-308, 0.1, 0.2, 0.30000000000000004,
    123456789.123, 1e21, 1e22, 1e-05, 0.0001, 1e100, -1e-100, 3.141592653589793,
    9007199254740992.0, 1.2345678901234567e-300, 0.7051032442882943, 0.03201844170689583,
    -1.5, 100.0, 1e308, 4.9406564584124654e-324, 123.456, 0.5, 2.5e-05,
]

# raw number spellings Python's json cannot emit; substituted textually
RAW_NUMBERS = ["-0", "1E2", "1.50", "2.5e-3", "0e0", "-0.0e0", "1e+2", "100E-2",
               "0.1e1", "1E+30", "-0E-0", "10.0", "5E-324", "1.7976931348623157e308"]
RAW_PLACEHOLDER = ["\x00RAW%d\x00" % i for i in range(len(RAW_NUMBERS))]
RAW_ENCODED = ['"\\u0000RAW%d\\u0000"' % i for i in range(len(RAW_NUMBERS))]

NASTY_TIMESTAMPS = [-1, 0, 1712909007434, 9223372036854775807, -9223372036854775808,
                    2147483647, 2147483648, 4294967295, 4294967296, 1, 253402300799,
                    1741222955000, -2147483648]


class FastRandom(random.Random):
    """random.Random with cheaper (slightly biased, still deterministic) helpers."""

    def randint(self, a, b):
        return a + int(self.random() * (b - a + 1))

    def randrange(self, n):
        return int(self.random() * n)

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def choices(self, seq, k=1):
        rnd = self.random
        n = len(seq)
        return [seq[int(rnd() * n)] for _ in range(k)]


B62_BYTES = bytes(ord(B62[i % 62]) for i in range(256))


def build_deep(rng, depth, leaf):
    """A chain of exactly `depth` nested containers around leaf."""
    v = leaf
    for i in range(depth):
        if rng.random() < 0.5:
            v = {"d%d" % (depth - i): v}
        else:
            v = [v]
    return v


class Gen:
    def __init__(self, seed, count, nasty):
        self.r = FastRandom(seed)
        self.count = count
        self.nasty = nasty
        r = self.r
        nthreads = max(1.0, count / 9.0)
        self.mean_gap = (T_END - T_START) / nthreads
        self.clock = T_START + r.randint(0, 3 * 86400)
        nasst = 2 + count // 3000
        self.assistants = [self.rid("asst_") for _ in range(min(nasst, 60))]
        nfiles = 5 + min(count // 200, 300)
        self.files = [(self.file_id(), r.choice(FILE_NAMES)) for _ in range(nfiles)]
        self.image_files = [self.file_id() for _ in range(20)]
        self.raw_used = False

    # ---------------------------------------------------------------- ids
    def rid(self, prefix):
        """prefix + 24 base62 characters."""
        return prefix + self.r.randbytes(24).translate(B62_BYTES).decode("ascii")

    def file_id(self):
        r = self.r
        if r.random() < 0.6:
            return self.rid("file-")
        return self.rid("file-")[:27]

    # ---------------------------------------------------------------- text
    def fmt(self, tmpl):
        r = self.r
        return tmpl.format(n=r.randint(2, 200000), k=r.randint(1, 30), m=r.randint(1, 999999),
                           fid=r.choice(self.files)[0],
                           f=r.uniform(0, 1000), g=r.uniform(0, 1000), h=r.uniform(0, 100))

    def code_input(self):
        r = self.r
        x = r.random()
        if x < 0.55:
            k = 1
        elif x < 0.85:
            k = r.randint(2, 4)
        elif x < 0.98:
            k = r.randint(5, 15)
        else:
            k = r.randint(15, 40)   # several KB
        return "\n\n".join(self.fmt(r.choice(CODE_SNIPPETS)) for _ in range(k))

    def logs(self):
        r = self.r
        s = self.fmt(r.choice(LOG_TEMPLATES))
        if r.random() < 0.05:
            s = s * r.randint(10, 60)
        return s

    def paragraph(self, lo, hi):
        r = self.r
        return " ".join(r.choices(SENTENCES, k=r.randint(lo, hi)))

    # ---------------------------------------------------------------- tool calls
    def tc_code(self, status):
        r = self.r
        outputs = []
        if status == "completed":
            x = r.random()
            if x < 0.65:
                outputs = [{"type": "logs", "logs": self.logs()}]
            elif x < 0.85:
                outputs = [{"type": "image", "image": {"file_id": r.choice(self.image_files)}}]
            elif x < 0.93:
                outputs = [{"type": "logs", "logs": self.logs()},
                           {"type": "image", "image": {"file_id": r.choice(self.image_files)}}]
        return {"id": self.rid("call_"), "type": "code_interpreter",
                "code_interpreter": {"input": self.code_input(), "outputs": outputs}}

    def tc_file_search(self, status, t):
        r = self.r
        cid = self.rid("call_")
        if t < T_V2:
            return {"id": cid, "type": "retrieval", "retrieval": {}}
        if t < T_FS_DETAILS:
            return {"id": cid, "type": "file_search", "file_search": {}}
        ranker = "default_2024_08_21" if r.random() < 0.6 else "auto"
        thr = 0.0 if r.random() < 0.85 else r.choice([0.2, 0.3, 0.5, 0.75])
        if self.nasty and r.random() < 0.3:
            ranker = "default-2024-08-21"       # seen in a real 2025-03 capture
            if r.random() < 0.5:
                thr = 0                         # integer, seen from Azure
        fs = {"ranking_options": {"ranker": ranker, "score_threshold": thr}}
        results = []
        if status == "completed":
            n = r.choice([0, 1, 2, 3, 5, 5, 8, 10, 12, 20, 20, 20])
            with_content = r.random() < 0.12
            score = r.uniform(0.45, 0.95)
            for _ in range(n):
                fid, fname = r.choice(self.files)
                res = {"file_id": fid, "file_name": fname, "score": score}
                if with_content:
                    res["content"] = [{"type": "text", "text": self.paragraph(2, 25)}]
                results.append(res)
                score *= r.uniform(0.9, 1.0)
        fs["results"] = results
        return {"id": cid, "type": "file_search", "file_search": fs}

    def tc_function(self, status):
        r = self.r
        k = r.randrange(8)
        city = r.choice(CITIES)
        if k == 0:
            name, args = "get_current_weather", {"location": city, "unit": r.choice(["celsius", "fahrenheit"])}
            out = "%d degrees and sunny." % r.randint(-10, 40)
        elif k == 1:
            name, args = "CurrentTemperature", {"location": city, "unit": "C"}
            out = str(r.randint(-5, 35))
        elif k == 2:
            name, args = "RainProbability", {"location": city}
            out = repr(r.uniform(0, 100))
        elif k == 3:
            name = "search_products"
            args = {"query": r.choice(["running shoes", "café", "usb-c hub", "ノートパソコン"]),
                    "max_results": r.randint(1, 10), "filters": {"in_stock": True, "max_price": r.randint(10, 500)}}
            out = json.dumps([{"sku": "SKU-%05d" % r.randint(0, 99999), "price": round(r.uniform(5, 500), 2)}
                              for _ in range(r.randint(0, 4))])
        elif k == 4:
            name = "display_quiz"
            args = {"title": "Quiz %d" % r.randint(1, 99), "questions": [
                {"question_text": "What is %d + %d?" % (r.randint(1, 9), r.randint(1, 9)),
                 "question_type": "MULTIPLE_CHOICE",
                 "choices": [str(r.randint(1, 18)) for _ in range(4)]},
                {"question_text": "Explain the difference between a list and a tuple.",
                 "question_type": "FREE_RESPONSE"}]}
            out = json.dumps({"responses": ["4", "Lists are mutable; tuples are not."]})
        elif k == 5:
            name = "send_email"
            args = {"to": "ana.souza@example.com", "subject": "Relatório semanal",
                    "body": "Olá Ana,\n\nSegue o resumo da semana.\n\n— Bot"}
            out = r.choice(["sent", "{\"status\": \"queued\", \"id\": \"%d\"}" % r.randint(1, 10 ** 9)])
        elif k == 6:
            name = "lookup_order"
            args = {"order_id": "A%06d" % r.randint(0, 999999)}
            out = json.dumps({"order_id": args["order_id"], "status": "shipped",
                              "items": r.randint(1, 5), "eta": "2024-06-%02d" % r.randint(1, 28)}, indent=r.choice([None, 2]))
        else:
            name = "run_sql"
            args = {"query": "SELECT city, SUM(amount) AS total\nFROM sales\nWHERE year = %d\nGROUP BY city\nORDER BY total DESC\nLIMIT %d;"
                    % (r.randint(2019, 2025), r.randint(1, 50))}
            out = "\n".join("%s\t%.2f" % (c, r.uniform(0, 1e6)) for c in r.sample(CITIES, r.randint(1, 5)))
        x = r.random()
        if x < 0.45:
            a = json.dumps(args, separators=(",", ":"), ensure_ascii=False)
        elif x < 0.8:
            a = json.dumps(args, ensure_ascii=False)
        elif x < 0.9:
            a = json.dumps(args)
        else:
            a = json.dumps(args, indent=2, ensure_ascii=False)
        if status != "completed":
            out = None
        return {"id": self.rid("call_"), "type": "function",
                "function": {"name": name, "arguments": a, "output": out}}

    # ---------------------------------------------------------------- steps
    def step(self, run, stype, status, t0, details):
        r = self.r
        dur = r.randint(0, 3) if stype == "message_creation" else r.randint(0, 25)
        t1 = t0 + dur
        rec = {"id": self.rid("step_"), "object": "thread.run.step", "created_at": t0,
               "run_id": run["id"], "assistant_id": run["asst"], "thread_id": run["thread"],
               "type": stype, "status": status,
               "cancelled_at": t1 if status == "cancelled" else None,
               "completed_at": t1 if status == "completed" else None,
               "expires_at": run["expires"] if status != "expired" else run["deadline"],
               "failed_at": t1 if status == "failed" else None,
               "last_error": None, "step_details": details}
        if status == "failed":
            code, msg = r.choice(ERRORS)
            rec["last_error"] = {"code": code, "message": msg}
        if t0 >= T_USAGE:
            if status == "in_progress" or status == "expired":
                usage = None
            elif status in ("failed", "cancelled") and r.random() < 0.5:
                usage = None if r.random() < 0.5 else {"prompt_tokens": 0, "completion_tokens": 16, "total_tokens": 16}
            else:
                run["prompt"] += r.randint(20, 1500)
                p = run["prompt"]
                c = r.randint(5, 60) if stype == "tool_calls" and r.random() < 0.5 else r.randint(5, 900)
                usage = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
                if t0 >= T_2025 and r.random() < 0.4:
                    usage["prompt_token_details"] = {"cached_tokens": r.choice([0, 0, 0, 1024, 1152, p // 128 * 128])}
                    usage["completion_tokens_details"] = {"reasoning_tokens": 0}
            rec["usage"] = usage
        return rec, t1

    def tool_step(self, run, status, t0, kinds):
        r = self.r
        if status in ("failed",) or (status == "in_progress" and r.random() < 0.4):
            calls = []
        else:
            calls = []
            for k in kinds:
                if k == "code":
                    calls.append(self.tc_code(status))
                elif k == "fs":
                    calls.append(self.tc_file_search(status, t0))
                else:
                    calls.append(self.tc_function(status))
        return self.step(run, "tool_calls", status, t0, {"type": "tool_calls", "tool_calls": calls})

    def msg_step(self, run, status, t0):
        return self.step(run, "message_creation", status, t0,
                         {"type": "message_creation", "message_creation": {"message_id": self.rid("msg_")}})

    def run_plan(self):
        r = self.r
        x = r.random()
        if x < 0.33:
            return [None]
        if x < 0.58:
            plan = [["func"] * r.choice([1, 1, 1, 2, 3])]
            if r.random() < 0.2:
                plan.append(["func"])
            return plan + [None]
        if x < 0.73:
            return [["code"] for _ in range(r.choice([1, 1, 2, 3]))] + [None]
        if x < 0.90:
            return [["fs"]] + [None]
        kinds = [r.choice(["code", "fs", "func"]) for _ in range(r.randint(2, 4))]
        return [kinds, None]

    def thread(self):
        """Yield the records of one thread."""
        r = self.r
        self.clock += int(r.expovariate(1.0 / self.mean_gap)) + 1
        t = self.clock
        thread_id = self.rid("thread_")
        asst = r.choice(self.assistants)
        prompt = r.randint(150, 3000)
        nruns = r.choice([1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6])
        for _ in range(nruns):
            run_created = t
            run = {"id": self.rid("run_"), "thread": thread_id, "prompt": prompt,
                   "asst": asst if r.random() < 0.95 else r.choice(self.assistants),
                   "deadline": run_created + 600, "created": run_created,
                   "model": r.choice(MODELS)}
            # expires_at: set while the run is active (stream capture), null after
            run["expires"] = run["deadline"] if r.random() < 0.7 else None
            plan = self.run_plan()
            x = r.random()
            if x < 0.86:
                outcome, cut = "completed", len(plan)
            else:
                outcome = "in_progress" if x < 0.91 else "failed" if x < 0.95 else "cancelled" if x < 0.98 else "expired"
                cut = r.randint(1, len(plan))
                if outcome == "expired":
                    # runs expire waiting for tool outputs
                    plan = [["func"] * r.randint(1, 2)]
                    cut = 1
                run["expires"] = run["deadline"]
            ts = t + r.randint(1, 3)
            for i in range(cut):
                status = outcome if i == cut - 1 else "completed"
                kinds = plan[i]
                if kinds is None:
                    rec, t1 = self.msg_step(run, status, ts)
                else:
                    rec, t1 = self.tool_step(run, status, ts, kinds)
                if self.nasty or r.random() < 0.10:
                    self.mutate(rec)
                yield rec, run
                ts = t1 + r.randint(0, 2)
            prompt = run["prompt"] + r.randint(10, 400)
            t = ts + r.randint(5, 900)
        self.clock = max(self.clock, t)

    # ---------------------------------------------------------------- nasty
    def nstr(self):
        r = self.r
        x = r.random()
        if x < 0.08:
            return ""
        return "".join(r.choices(NASTY_PIECES, k=r.randint(1, 8)))

    def nscalar(self):
        r = self.r
        x = r.random()
        if x < 0.25:
            return self.nstr()
        if x < 0.45:
            v = r.choice(NASTY_INTS) * (1 if r.random() < 0.8 else -1) if r.random() < 0.9 else r.randint(-10 ** 6, 10 ** 6)
            # JSON integers an archiver must keep exactly: int64 and uint64 only
            return v if -2 ** 63 <= v < 2 ** 64 else -v
        if x < 0.65:
            return r.choice(NASTY_FLOATS) if r.random() < 0.8 else r.uniform(-1e6, 1e6)
        if x < 0.72:
            self.raw_used = True
            return r.choice(RAW_PLACEHOLDER)
        if x < 0.8:
            return None
        return r.random() < 0.5

    def nvalue(self, budget):
        """Random JSON value whose container depth is <= budget."""
        r = self.r
        if budget <= 0:
            return self.nscalar()
        x = r.random()
        if x < 0.5:
            return self.nscalar()
        if x < 0.55:
            return r.choice([{}, [], [None], [0, -0.0, ""], {"": None}])
        if x < 0.75:
            d = {}
            for _ in range(r.randint(0, 4)):
                k = r.choice(NASTY_KEYS) if r.random() < 0.5 else self.nstr()[:40]
                if k not in d:
                    d[k] = self.nvalue(budget - 1) if r.random() < 0.5 else self.nscalar()
            return d
        if x < 0.92:
            return [self.nvalue(budget - 1) if r.random() < 0.4 else self.nscalar()
                    for _ in range(r.randint(0, 5))]
        return build_deep(r, r.randint(1, budget), self.nscalar())

    def insert(self, d, k, v):
        if k in d:
            return
        items = list(d.items())
        items.insert(self.r.randint(0, len(items)), (k, v))
        d.clear()
        d.update(items)

    def nodes(self, v, depth, out):
        """Collect (dict, depth) for every object inside a record."""
        if isinstance(v, dict):
            out.append((v, depth))
            for x in v.values():
                if isinstance(x, (dict, list)):
                    self.nodes(x, depth + 1, out)
        elif isinstance(v, list):
            for x in v:
                if isinstance(x, (dict, list)):
                    self.nodes(x, depth + 1, out)
        return out

    def tool_calls_of(self, rec):
        sd = rec.get("step_details")
        if isinstance(sd, dict) and isinstance(sd.get("tool_calls"), list):
            return sd["tool_calls"]
        return None

    def set_string_field(self, rec, s):
        """Put a hostile string into some realistic string field."""
        r = self.r
        tcs = self.tool_calls_of(rec)
        choices = ["id", "run_id", "thread_id", "assistant_id"]
        if rec.get("last_error"):
            choices.append("last_error")
        if tcs:
            choices += ["tc"] * 4
        sd = rec.get("step_details")
        if isinstance(sd, dict) and isinstance(sd.get("message_creation"), dict):
            choices.append("msg")
        c = r.choice(choices)
        if c == "last_error":
            rec["last_error"]["message"] = s
        elif c == "msg":
            sd["message_creation"]["message_id"] = s
        elif c == "tc":
            tc = r.choice(tcs)
            if not isinstance(tc, dict):
                return
            t = tc.get("type")
            if t == "function" and isinstance(tc.get("function"), dict):
                tc["function"][r.choice(["name", "arguments", "output"])] = s
            elif t == "code_interpreter" and isinstance(tc.get("code_interpreter"), dict):
                ci = tc["code_interpreter"]
                if ci.get("outputs") and r.random() < 0.5 and ci["outputs"][0].get("type") == "logs":
                    ci["outputs"][0]["logs"] = s
                else:
                    ci["input"] = s
            elif t == "file_search" and isinstance(tc.get("file_search"), dict) and tc["file_search"].get("results"):
                res = r.choice(tc["file_search"]["results"])
                if res.get("content") and r.random() < 0.5:
                    res["content"][0]["text"] = s
                else:
                    res["file_name"] = s
            else:
                tc["id"] = s
        else:
            rec[c] = s

    def unknown_tool(self):
        r = self.r
        cid = self.rid("call_") if r.random() < 0.8 else ""
        k = r.randrange(7)
        if k == 0:
            return {"id": cid, "type": "retrieval", "retrieval": {}}
        if k == 1:
            return {"id": cid, "type": "browser", "browser": {"url": "https://example.com/?q=%E2%9C%93", "title": self.nstr()}}
        if k == 2:
            return {"id": cid, "type": "bing_grounding",
                    "bing_grounding": {"requesturl": "https://api.bing.microsoft.com/v7.0/search?q=weather",
                                       "response_metadata": {"market": "en-US", "count": r.randint(0, 10)}}}
        if k == 3:
            return {"type": "azure_ai_search", "id": cid, "azure_ai_search": {}}
        if k == 4:
            return {"id": cid, "type": "quark_search", "quark_search": {"query": self.nstr(), "hits": [r.random() for _ in range(3)]}}
        if k == 5:
            return {"id": cid, "type": "sharepoint_grounding", "sharepoint_grounding": {"output": self.nstr()}}
        return {"id": cid, "type": self.nstr()[:30] or "x", "payload": self.nvalue(4)}

    def mutate(self, rec):
        r = self.r
        n = r.choice([1, 1, 2, 2, 3, 4, 5, 6]) if self.nasty else r.choice([1, 1, 1, 2, 3])
        for _ in range(n):
            m = r.randrange(17)
            if m == 0:      # unknown key somewhere, depth-limited
                nodes = self.nodes(rec, 1, [])
                d, depth = r.choice(nodes)
                k = r.choice(NASTY_KEYS) if r.random() < 0.7 else self.nstr()[:64]
                self.insert(d, k, self.nvalue(MAX_DEPTH - depth))
            elif m == 1:    # unknown top-level keys
                for _ in range(r.randint(1, 3)):
                    self.insert(rec, r.choice(NASTY_KEYS), self.nvalue(MAX_DEPTH - 1))
            elif m == 2:    # usage variants
                u = rec.get("usage")
                x = r.random()
                if x < 0.2:
                    rec.pop("usage", None)
                elif x < 0.35:
                    rec["usage"] = None
                elif x < 0.5:
                    rec["usage"] = {}
                else:
                    if not isinstance(u, dict):
                        u = {"prompt_tokens": r.randint(0, 20000), "completion_tokens": r.randint(0, 2000)}
                        u["total_tokens"] = u["prompt_tokens"] + u["completion_tokens"]
                        rec["usage"] = u
                    self.insert(u, "prompt_token_details", {"cached_tokens": r.choice([0, 1024, 2 ** 32])})
                    self.insert(u, "completion_tokens_details",
                                {"reasoning_tokens": r.choice([0, 64]), "accepted_prediction_tokens": 0,
                                 "rejected_prediction_tokens": 0} if r.random() < 0.5 else {"reasoning_tokens": 0})
                    if r.random() < 0.3:
                        self.insert(u, r.choice(NASTY_KEYS), self.nvalue(3))
                    if r.random() < 0.2:
                        u["total_tokens"] = r.choice(NASTY_INTS)
            elif m == 3:    # unknown tool types
                tcs = self.tool_calls_of(rec)
                if tcs is None:
                    rec["type"] = "tool_calls"
                    rec["step_details"] = {"type": "tool_calls", "tool_calls": []}
                    tcs = rec["step_details"]["tool_calls"]
                tcs.insert(r.randint(0, len(tcs)), self.unknown_tool())
            elif m == 4:    # undocumented enum values
                x = r.randrange(6)
                if x == 0:
                    rec["status"] = r.choice(["paused", "requires_action", "queued", "incomplete", "", "COMPLETED", "cancelling"])
                elif x == 1:
                    rec["last_error"] = {"code": r.choice(["", "invalid_prompt", "content_filter", "server_error"]),
                                         "message": r.choice(["", "Sorry, something went wrong.", self.nstr()])}
                elif x == 2:
                    rec["type"] = r.choice(["tool_calls", "message_creation", "reasoning", ""])
                elif x == 3:
                    sd = rec.get("step_details")
                    if isinstance(sd, dict):
                        sd["type"] = r.choice(["thinking", "message_creation", "tool_calls", ""])
                else:
                    for tc in self.tool_calls_of(rec) or []:
                        if tc.get("type") == "file_search" and isinstance(tc.get("file_search"), dict):
                            ro = tc["file_search"].get("ranking_options")
                            if isinstance(ro, dict):
                                ro["ranker"] = r.choice(["default-2024-08-21", "default_2025_01_01", "", "AUTO"])
                                if r.random() < 0.5:
                                    ro["score_threshold"] = r.choice([0, 1, 0.0, 1e-07, 0.5])
                            for res in tc["file_search"].get("results") or []:
                                if r.random() < 0.2:
                                    res["score"] = r.choice([0, 1, 0.0, 1.0, 5e-324, 0.9999999999999999])
                        elif tc.get("type") == "code_interpreter" and isinstance(tc.get("code_interpreter"), dict) \
                                and isinstance(tc["code_interpreter"].get("outputs"), list):
                            tc["code_interpreter"]["outputs"].append(
                                {"type": r.choice(["chart", "file", "error"]), "chart": {"file_id": self.file_id()}})
            elif m == 5:    # expires_at / expired_at
                x = r.randrange(4)
                v = rec.get("expires_at")
                if x == 0:
                    self.insert(rec, "expired_at", None if r.random() < 0.5 else v)
                elif x == 1:
                    rec.pop("expires_at", None)
                    self.insert(rec, "expired_at", v)
                elif x == 2:
                    rec.pop("expires_at", None)
                else:
                    self.insert(rec, "expired_at", r.choice(NASTY_TIMESTAMPS))
            elif m == 6:    # metadata
                x = r.randrange(4)
                if x == 0:
                    rec.pop("metadata", None)
                    self.insert(rec, "metadata", None)
                elif x == 1:
                    rec.pop("metadata", None)
                    self.insert(rec, "metadata", {})
                else:
                    md = {}
                    for _ in range(r.randint(1, 16)):
                        k = r.choice(["user_id", "session", "source", "tag", "ключ", "😀", ""]) if r.random() < 0.5 else self.nstr()[:64]
                        if k not in md:
                            md[k] = self.nstr()[:512] if r.random() < 0.7 else r.choice(["", "true", "42", "v"])
                    if x == 3 and r.random() < 0.3:
                        md["non_string"] = r.choice([1, None, True, [], {"a": "b"}])   # 3rd-party data
                    rec.pop("metadata", None)
                    self.insert(rec, "metadata", md)
            elif m == 7:    # absent vs null
                for k in r.sample(["cancelled_at", "completed_at", "failed_at", "last_error", "expires_at", "usage",
                                   "assistant_id", "metadata"], r.randint(1, 4)):
                    if r.random() < 0.5:
                        rec.pop(k, None)
                    elif k not in rec:
                        self.insert(rec, k, None)
                    else:
                        rec[k] = None
                for tc in self.tool_calls_of(rec) or []:
                    if isinstance(tc.get("function"), dict) and r.random() < 0.5:
                        tc["function"].pop("output", None)
            elif m == 8:    # hostile strings in real fields
                self.set_string_field(rec, self.nstr())
            elif m == 9:    # timestamps
                k = r.choice(["created_at", "completed_at", "cancelled_at", "failed_at", "expires_at", "created_at"])
                if k in rec:
                    rec[k] = r.choice(NASTY_TIMESTAMPS)
            elif m == 10:   # empty ids
                k = r.choice(["id", "run_id", "thread_id", "assistant_id"])
                rec[k] = ""
            elif m == 11:   # numbers in unknown keys
                self.insert(rec, r.choice(["x_counter", "seq", "x_u64", "x_float", "x_numbers"]),
                            r.choice([18446744073709551615, [r.choice(NASTY_FLOATS) for _ in range(5)],
                                      [r.choice(NASTY_INTS) for _ in range(5)], self.nscalar()]))
            elif m == 12:   # deep nesting
                nodes = self.nodes(rec, 1, [])
                d, depth = r.choice(nodes)
                self.insert(d, "x_deep", build_deep(r, MAX_DEPTH - depth, self.nscalar()))
            elif m == 13:   # unknown keys in tool calls / usage / inner objects
                for tc in self.tool_calls_of(rec) or []:
                    if isinstance(tc, dict):
                        self.insert(tc, r.choice(["index", "x_status", "output", "annotations", ""]), self.nvalue(3))
                        inner = tc.get(tc.get("type")) if isinstance(tc.get("type"), str) else None
                        if isinstance(inner, dict):
                            self.insert(inner, r.choice(["x_meta", "detail", "status", "🙂"]), self.nvalue(3))
            elif m == 14:   # long string: sometimes 1-5 KB, rarely up to ~100 KB
                if r.random() < 0.3:
                    s = self.paragraph(3, 10) + (self.nstr() or "x")
                    n = r.randint(20000, 100000) if r.random() < 0.04 else r.randint(1000, 5000)
                    s = (s * (n // len(s) + 1))[:n]
                else:
                    s = self.nstr()
                self.set_string_field(rec, s)
            elif m == 15:   # file_search details oddities
                for tc in self.tool_calls_of(rec) or []:
                    if tc.get("type") == "file_search" and isinstance(tc.get("file_search"), dict):
                        fs = tc["file_search"]
                        x = r.randrange(3)
                        if x == 0:
                            fs.pop("ranking_options", None)
                        elif x == 1 and isinstance(fs.get("ranking_options"), dict):
                            fs["ranking_options"]["score_threshold"] = 0
                        else:
                            for res in fs.get("results") or []:
                                res["content"] = [{"type": "text", "text": self.nstr()}] if r.random() < 0.7 else []
                                self.insert(res, "attributes", {"k": self.nstr()[:20]})
            else:           # step_details variants
                sd = rec.get("step_details")
                if isinstance(sd, dict) and isinstance(sd.get("tool_calls"), list):
                    if r.random() < 0.5:
                        sd["tool_calls"] = []
                    self.insert(sd, "x_extra", self.nvalue(3))
                elif isinstance(sd, dict):
                    self.insert(sd.get("message_creation") if isinstance(sd.get("message_creation"), dict) else sd,
                                "x_note", self.nstr())


# --------------------------------------------------------------------------
# output


def encode(obj, ea, compact, indent=None):
    if indent is not None:
        s = json.dumps(obj, ensure_ascii=ea, indent=indent, allow_nan=False)
    elif compact:
        s = json.dumps(obj, ensure_ascii=ea, separators=(",", ":"), allow_nan=False)
    else:
        s = json.dumps(obj, ensure_ascii=ea, allow_nan=False)
    if "u0000RAW" in s:
        for i, enc in enumerate(RAW_ENCODED):
            if enc in s:
                s = s.replace(enc, RAW_NUMBERS[i])
    return s


def run_object(run, status, f):
    obj = {"id": run["id"], "object": "thread.run", "created_at": run["created"],
           "assistant_id": run["asst"], "thread_id": run["thread"], "status": status,
           "started_at": None if status == "queued" else run["created"] + 1,
           "expires_at": run["deadline"] if status in ("queued", "in_progress") else None,
           "cancelled_at": None, "failed_at": None,
           "completed_at": None if status != "completed" else run["created"] + 30,
           "required_action": None, "last_error": None, "model": run["model"],
           "instructions": "You are a helpful assistant. Você é um assistente útil.",
           "tools": [{"type": "code_interpreter"}, {"type": "file_search", "file_search": {
               "ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.0}}}],
           "tool_resources": {}, "metadata": {}, "temperature": 1.0, "top_p": 1.0,
           "max_completion_tokens": None, "max_prompt_tokens": None,
           "truncation_strategy": {"type": "auto", "last_messages": None},
           "incomplete_details": None, "usage": None, "response_format": "auto",
           "tool_choice": "auto", "parallel_tool_calls": True}
    return obj


def snapshot(rec):
    """The in_progress version of a finished step, as sent by step.created."""
    s = dict(rec)
    s["status"] = "in_progress"
    for k in ("cancelled_at", "completed_at", "failed_at", "last_error", "usage"):
        if k in s:
            s[k] = None
    sd = rec.get("step_details")
    if isinstance(sd, dict) and sd.get("type") == "tool_calls":
        sd = dict(sd)
        sd["tool_calls"] = []
        s["step_details"] = sd
    return s


def chunks(f, s, maxn):
    out = []
    i = 0
    while i < len(s):
        n = f.randint(1, maxn)
        out.append(s[i:i + n])
        i += n
    return out


def step_deltas(f, rec):
    """thread.run.step.delta objects for a finished step (ignored by converters)."""
    out = []
    sd = rec.get("step_details")
    if not isinstance(sd, dict) or not isinstance(sd.get("tool_calls"), list):
        return out
    sid = rec.get("id")
    for idx, tc in enumerate(sd["tool_calls"]):
        if not isinstance(tc, dict):
            continue
        t = tc.get("type")
        if t == "function" and isinstance(tc.get("function"), dict):
            fn = tc["function"]
            first = {"index": idx, "id": tc.get("id"), "type": "function",
                     "function": {"name": fn.get("name"), "arguments": "", "output": None}}
            out.append(first)
            a = fn.get("arguments")
            if isinstance(a, str):
                for c in chunks(f, a, max(40, len(a) // 40)):
                    out.append({"index": idx, "type": "function", "function": {"arguments": c}})
        elif t == "code_interpreter" and isinstance(tc.get("code_interpreter"), dict):
            out.append({"index": idx, "id": tc.get("id"), "type": "code_interpreter",
                        "code_interpreter": {"input": "", "outputs": []}})
            src = tc["code_interpreter"].get("input")
            if isinstance(src, str):
                for c in chunks(f, src, max(1, len(src) // 4 + 1))[:20]:
                    out.append({"index": idx, "type": "code_interpreter", "code_interpreter": {"input": c}})
        elif t == "file_search":
            out.append({"index": idx, "id": tc.get("id"), "type": "file_search", "file_search": tc.get("file_search")})
    return [{"id": sid, "object": "thread.run.step.delta",
             "delta": {"step_details": {"type": "tool_calls", "tool_calls": [d]}}} for d in out]


def message_events(f, rec, run):
    sd = rec.get("step_details")
    mid = sd.get("message_creation", {}).get("message_id") if isinstance(sd, dict) and isinstance(sd.get("message_creation"), dict) else None
    if not isinstance(mid, str):
        return []
    base = {"id": mid, "object": "thread.message", "created_at": rec.get("created_at"),
            "assistant_id": run["asst"], "thread_id": run["thread"], "run_id": run["id"],
            "status": "in_progress", "incomplete_details": None, "incomplete_at": None,
            "completed_at": None, "role": "assistant", "content": [], "attachments": [], "metadata": {}}
    ev = [("thread.message.created", base), ("thread.message.in_progress", base)]
    text = f.choice(MESSAGE_TEXTS)
    for c in chunks(f, text, 24):
        ev.append(("thread.message.delta", {"id": mid, "object": "thread.message.delta", "delta": {
            "content": [{"index": 0, "type": "text", "text": {"value": c, "annotations": []}}]}}))
    done = dict(base)
    done["status"] = "completed"
    done["content"] = [{"type": "text", "text": {"value": text, "annotations": []}}]
    ev.append(("thread.message.completed", done))
    return ev


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate realistic OpenAI run steps (thread.run.step).")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--shape", choices=["jsonl", "array", "list", "pretty", "sse"], default="jsonl")
    ap.add_argument("--nasty", action="store_true", help="edge cases in every record (else ~10%%)")
    ap.add_argument("--sse-final-only", action="store_true",
                    help="sse: send each step once (no in_progress snapshots)")
    a = ap.parse_args(argv)
    if a.count < 0:
        ap.error("--count must be >= 0")

    gen = Gen(a.seed, a.count, a.nasty)
    f = FastRandom(a.seed * 7919 + 104729)     # formatting choices only
    out = sys.stdout.buffer
    buf = []
    size = 0
    shape = a.shape

    def emit(s):
        nonlocal size
        buf.append(s)
        size += len(s)
        if size > (1 << 20):
            out.write("".join(buf).encode("utf-8"))
            buf.clear()
            size = 0

    def rec_text(rec, indent=None):
        return encode(rec, f.random() < 0.5, f.random() < 0.5, indent)

    def records():
        n = 0
        while n < a.count:
            for rec, run in gen.thread():
                yield rec, run
                n += 1
                if n >= a.count:
                    return

    if shape == "jsonl":
        for rec, _ in records():
            emit(rec_text(rec) + "\n")
    elif shape == "pretty":
        for rec, _ in records():
            emit(rec_text(rec, 2) + "\n")
    elif shape == "array":
        nl = f.random() < 0.5
        emit("[\n" if nl else "[")
        first = True
        for rec, _ in records():
            if not first:
                emit(",\n" if nl else ",")
            first = False
            emit(rec_text(rec))
        emit("\n]\n" if nl else "]\n")
    elif shape == "list":
        page = []
        limit = f.randint(1, 20)

        def flush(has_more):
            ids = [r.get("id") for r, _ in page]
            emit('{"object":"list","data":[' + ",".join(t for _, t in page) + '],"first_id":'
                 + json.dumps(ids[0] if ids else None) + ',"last_id":'
                 + json.dumps(ids[-1] if ids else None) + ',"has_more":'
                 + ("true" if has_more else "false") + "}\n")

        for rec, _ in records():
            if len(page) == limit:
                flush(True)
                page = []
                limit = f.choice([20, 20, 20, 20, f.randint(1, 20)])
            page.append((rec, rec_text(rec)))
        flush(False)
    else:  # sse
        def ev(name, obj):
            sp = "" if (a.nasty and f.random() < 0.05) else " "
            emit("event: " + name + "\ndata:" + sp + (encode(obj, f.random() < 0.5, True) if obj is not None else "[DONE]") + "\n\n")

        cur = None
        for rec, run in records():
            if cur is not run:
                if cur is not None:
                    ev("thread.run.completed", run_object(cur, "completed", f))
                cur = run
                ev("thread.run.created", run_object(run, "queued", f))
                ev("thread.run.queued", run_object(run, "queued", f))
                ev("thread.run.in_progress", run_object(run, "in_progress", f))
            if f.random() < 0.02:
                emit(": keep-alive\n\n")
            st = rec.get("status")
            if st in TERMINAL and not a.sse_final_only:
                s = snapshot(rec)
                ev("thread.run.step.created", s)
                if f.random() < 0.5:
                    ev("thread.run.step.in_progress", s)
                for d in step_deltas(f, rec):
                    ev("thread.run.step.delta", d)
                if rec.get("type") == "message_creation" and st == "completed":
                    for name, obj in message_events(f, rec, run):
                        ev(name, obj)
                ev("thread.run.step." + st, rec)
            else:
                ev("thread.run.step." + st if st in TERMINAL else "thread.run.step.created", rec)
        if cur is not None:
            ev("thread.run.completed", run_object(cur, "completed", f))
        emit("event: done\ndata: [DONE]\n\n")

    if buf:
        out.write("".join(buf).encode("utf-8"))
    out.flush()


if __name__ == "__main__":
    main()
