# shellcheck shell=sh disable=SC2154
# posix.config_thumbprint, shared part. rd_ct MODE FILE reads FILE and
#   count:   prints "<occurrences of $P_old> <occurrences of $P_new>"
#   replace: prints FILE with every occurrence of $P_old replaced by $P_new
# Matching is literal and case-insensitive (index(), never a regex), and with
# $P_bound = hex a match must not touch another hex digit (so a serial is not
# found inside a longer number). The values reach awk through ENVIRON only;
# they are never part of the awk program. A replacement keeps the case style
# of what it replaces ($P_case preserve), or is forced lower/upper.
rd_ct() { # MODE FILE
  MODE=$1 OLD=$P_old NEW=$P_new CASE=$P_case BOUND=$P_bound awk '
    function ishex(c) { return c ~ /^[0-9A-Fa-f]$/ }
    function bounded(pre, post) { return ENVIRON["BOUND"] != "hex" || (!ishex(pre) && !ishex(post)) }
    function styled(m, v,    c) {
      c = ENVIRON["CASE"]
      if (c == "lower") return tolower(v)
      if (c == "upper") return toupper(v)
      if (m == toupper(m) && m != tolower(m)) return toupper(v)
      if (m == tolower(m) && m != toupper(m)) return tolower(v)
      return v
    }
    function scan(line, needle, repl, doit,    low, nd, len, p, pre, post, prev, out, cnt) {
      low = tolower(line); nd = tolower(needle); len = length(nd); out = ""; cnt = 0; prev = ""
      while (len > 0 && (p = index(low, nd)) > 0) {
        pre = p > 1 ? substr(line, p - 1, 1) : prev
        post = substr(line, p + len, 1)
        if (bounded(pre, post)) {
          cnt++
          out = out substr(line, 1, p - 1) (doit ? styled(substr(line, p, len), repl) : substr(line, p, len))
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
    BEGIN { mode = ENVIRON["MODE"]; o = ENVIRON["OLD"]; nw = ENVIRON["NEW"]; co = 0; cn = 0 }
    mode == "count" { co += scan($0, o, "", 0); if (nw != "") cn += scan($0, nw, "", 0) }
    mode == "replace" { scan($0, o, nw, 1); print OUT }
    END { if (mode == "count") print co, cn }
  ' <"$2"
}
