# shellcheck shell=sh disable=SC2154
# posix.config_thumbprint, shared part. The value is looked for in $P_n
# forms (hex, colon pairs, space pairs, base64 ...): form I is the files
# $RD_P/old_I, new_I (the value in that form), bound_I and ci_I.
# rd_ct MODE FILE reads FILE and
#   count:   prints "I <occurrences of old_I> <occurrences of new_I>" per
#            form, then "all <old total> <new total>"
#   replace: prints FILE with every occurrence of old_I replaced by new_I,
#            for every form (so each keeps the form it was written in)
# Matching is literal (index(), never a regex), case-insensitive when ci_I
# is 1, and bounded: with bound "hex" a match must not touch another hex
# digit (a serial is not found inside a longer number), "hexsep" nor a ':'
# (colon pairs), "b64" no base64 character. The values reach awk from the
# parameter files only; they are never part of the awk program. A
# case-insensitive replacement keeps the case style of what it replaces
# ($P_case preserve), or is forced lower/upper.
rd_ct() { # MODE FILE
  MODE=$1 D=$RD_P N=$P_n CASE=$P_case awk '
    function slurp(f,    v) { v = ""; if ((getline v < f) <= 0) v = ""; close(f); return v }
    function ishex(c) { return c ~ /^[0-9A-Fa-f]$/ }
    function bounded(b, pre, post) {
      if (b == "hex") return !ishex(pre) && !ishex(post)
      if (b == "hexsep") return !ishex(pre) && !ishex(post) && pre != ":" && post != ":"
      if (b == "b64") return pre !~ /^[A-Za-z0-9+\/=]$/ && post !~ /^[A-Za-z0-9+\/=]$/
      return 1
    }
    function styled(ci, m, v,    c) {
      c = ENVIRON["CASE"]
      if (!ci) return v
      if (c == "lower") return tolower(v)
      if (c == "upper") return toupper(v)
      if (m == toupper(m) && m != tolower(m)) return toupper(v)
      if (m == tolower(m) && m != toupper(m)) return tolower(v)
      return v
    }
    function scan(line, i, needle, repl, doit,    low, nd, len, p, pre, post, prev, out, cnt) {
      low = CI[i] ? tolower(line) : line; nd = CI[i] ? tolower(needle) : needle
      len = length(nd); out = ""; cnt = 0; prev = ""
      while (len > 0 && (p = index(low, nd)) > 0) {
        pre = p > 1 ? substr(line, p - 1, 1) : prev
        post = substr(line, p + len, 1)
        if (bounded(B[i], pre, post)) {
          cnt++
          out = out substr(line, 1, p - 1) (doit ? styled(CI[i], substr(line, p, len), repl) : substr(line, p, len))
        } else {
          out = out substr(line, 1, p - 1 + len)
        }
        prev = substr(line, p + len - 1, 1)
        line = substr(line, p + len)
        low = substr(low, p + len)
      }
      OUT = out line
      return cnt
    }
    BEGIN {
      mode = ENVIRON["MODE"]; d = ENVIRON["D"]; n = ENVIRON["N"] + 0
      for (i = 1; i <= n; i++) {
        O[i] = slurp(d "/old_" i); NW[i] = slurp(d "/new_" i)
        B[i] = slurp(d "/bound_" i); CI[i] = slurp(d "/ci_" i) == "1"; co[i] = 0; cn[i] = 0
      }
    }
    mode == "count" { for (i = 1; i <= n; i++) { co[i] += scan($0, i, O[i], "", 0); if (NW[i] != "") cn[i] += scan($0, i, NW[i], "", 0) } }
    mode == "replace" { l = $0; for (i = 1; i <= n; i++) { scan(l, i, O[i], NW[i], 1); l = OUT } print l }
    END {
      if (mode == "count") {
        for (i = 1; i <= n; i++) { print i, co[i], cn[i]; to += co[i]; tn += cn[i] }
        print "all", to + 0, tn + 0
      }
    }
  ' <"$2"
}
# The count lines of rd_ct as outputs old_count_I / new_count_I, and the
# totals as old_count / new_count.
rd_ct_out() { # COUNT-LINES
  printf '%s\n' "$1" | while read -r i o n; do
    if [ "$i" = all ]; then rd_out old_count "$o"; rd_out new_count "$n"; else rd_out "old_count_$i" "$o"; rd_out "new_count_$i" "$n"; fi
  done
}
