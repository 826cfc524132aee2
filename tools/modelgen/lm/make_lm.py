#!/usr/bin/env python3
"""Writes a tiny n-gram LM directory in FunASR's format (TLG.fst, config.yaml, lexicon.txt)
over a behavioural model's vocabulary, built with OpenFst's command-line tools the way
FunASR's runtime/tools/fst recipe builds one (T = CTC token FST, L = lexicon, G = grammar).

The grammar is a word loop (a unigram "n-gram", which is all the behavioural tests need)
with costs chosen so that the effect is predictable (docs/test-models.md, "lm"):
  every word costs DEFAULT_COST, "们" costs LOW_COST and "界" costs HIGH_COST.
With the behavioural offline model (log-softmax of 20*one_hot: a 20-nat margin per token)
the LM changes nothing at the default --am-scale 10 (margin 200), while at --am-scale 1.5 the
"界" of "你好世界" becomes "们" (30 + 1 < 40), and the hotword "世界" brings it back.

usage: make_lm.py --tokens models/behav/online/tokens.json --out DIR
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

DEFAULT_COST = 2.0
LOW_COST = 1.0
HIGH_COST = 40.0
WORD_COSTS = {"们": LOW_COST, "界": HIGH_COST}
SPECIAL = {"<blank>", "<s>", "</s>", "<unk>"}


def run(cmd, out_path=None):
    with open(out_path, "wb") if out_path else open(os.devnull, "wb") as out:
        p = subprocess.run(cmd, shell=True, stdout=out, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit("make_lm: command failed (%d): %s\n%s" % (p.returncode, cmd, p.stderr.decode()))


def lexicon(tokens):
    """word -> token list: every plain token is a word; "x@@" pieces join the next token."""
    lex = {}
    for t in tokens:
        if t in SPECIAL or t.endswith("@@"):
            continue
        lex[t] = [t]
    for i, t in enumerate(tokens):
        if t.endswith("@@") and i + 1 < len(tokens) and tokens[i + 1] not in SPECIAL:
            lex[t[:-2] + tokens[i + 1]] = [t, tokens[i + 1]]
    return lex


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", required=True, help="tokens.json of the ASR model (the online dir's in 2pass)")
    ap.add_argument("--out", required=True, help="output LM directory")
    a = ap.parse_args()
    with open(a.tokens, encoding="utf-8") as f:
        tokens = json.load(f)
    lex = lexicon(tokens)
    words = sorted(lex)
    os.makedirs(a.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        p = lambda n: os.path.join(tmp, n)
        # Symbol tables as the recipe writes them: words.txt = <eps>, the words, #0, <s>, </s>;
        # tokens.txt = <eps>, then the ASR tokens in id order (so FST label = token id + 1).
        # No homophones and no word spelled as a prefix of another: no disambiguation symbols
        # are needed for determinization.
        word_syms = ["<eps>"] + words + ["#0", "<s>", "</s>"]
        with open(p("words.txt"), "w", encoding="utf-8") as f:
            for i, w in enumerate(word_syms):
                f.write("%s %d\n" % (w, i))
        with open(p("tokens.txt"), "w", encoding="utf-8") as f:
            for i, t in enumerate(["<eps>"] + tokens):
                f.write("%s %d\n" % (t, i))
        # T: CTC topology (blank loop on 0; per token 0 -t:t-> X, X -t:eps-> X, X -eps-> 0).
        with open(p("T.txt"), "w", encoding="utf-8") as f:
            f.write("0 0 <blank> <eps>\n")
            x = 1
            for t in tokens:
                if t == "<blank>":
                    continue
                f.write("0 %d %s %s\n%d %d %s <eps>\n%d 0 <eps> <eps>\n" % (x, t, t, x, x, t, x))
                x += 1
            f.write("0\n")
        # L: word loop from state 0, the word on the first token.
        with open(p("L.txt"), "w", encoding="utf-8") as f:
            nxt = 1
            for w in words:
                toks = lex[w]
                src = 0
                for j, t in enumerate(toks):
                    dst = 0 if j == len(toks) - 1 else nxt
                    if dst:
                        nxt += 1
                    f.write("%d %d %s %s\n" % (src, dst, t, w if j == 0 else "<eps>"))
                    src = dst
            f.write("0\n")
        # G: unigram word loop.
        with open(p("G.txt"), "w", encoding="utf-8") as f:
            for w in words:
                f.write("0 0 %s %s %g\n" % (w, w, WORD_COSTS.get(w, DEFAULT_COST)))
            f.write("0\n")
        tk, wd = p("tokens.txt"), p("words.txt")
        run("fstcompile --isymbols=%s --osymbols=%s --keep_isymbols=false --keep_osymbols=false %s | "
            "fstarcsort --sort_type=olabel" % (tk, tk, p("T.txt")), p("T.fst"))
        run("fstcompile --isymbols=%s --osymbols=%s --keep_isymbols=false --keep_osymbols=false %s | "
            "fstarcsort --sort_type=olabel" % (tk, wd, p("L.txt")), p("L.fst"))
        run("fstcompile --isymbols=%s --osymbols=%s --keep_isymbols=false --keep_osymbols=false %s | "
            "fstarcsort --sort_type=ilabel" % (wd, wd, p("G.txt")), p("G.fst"))
        run("fstcompose %s %s | fstdeterminize | fstminimize | fstarcsort --sort_type=ilabel"
            % (p("L.fst"), p("G.fst")), p("LG.fst"))
        run("fstcompose %s %s" % (p("T.fst"), p("LG.fst")), os.path.join(a.out, "TLG.fst"))
        # config.yaml: the word list (collect_resource_file.sh), lexicon.txt: word<TAB>tokens.
        with open(os.path.join(a.out, "config.yaml"), "w", encoding="utf-8") as f:
            f.write("token_list:\n")
            for w in word_syms:
                f.write('- "%s"\n' % w)
        with open(os.path.join(a.out, "lexicon.txt"), "w", encoding="utf-8") as f:
            for w in words:
                f.write("%s\t%s\n" % (w, " ".join(lex[w])))
        with open(os.path.join(a.out, "README.txt"), "w", encoding="utf-8") as f:
            f.write("Generated by tools/modelgen/lm/make_lm.py (test LM, not trained).\n"
                    "Unigram word costs: default %g, %s.\n" % (DEFAULT_COST, json.dumps(WORD_COSTS, ensure_ascii=False)))
    print("make_lm: wrote %s (%d words)" % (a.out, len(words)))


if __name__ == "__main__":
    main()
