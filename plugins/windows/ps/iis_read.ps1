# iis_read.ps1 — {count, binding, hash, store, sslflags} of the binding.
$b = @(rdw_binding)
$res = [ordered]@{ count = $b.Count; binding = $null; hash = ''; store = $null; sslflags = $null }
if ($b.Count -eq 1) {
  $res.binding = [string]$b[0].bindingInformation
  $res.hash = ([string]$b[0].certificateHash).ToUpperInvariant()
  $res.store = [string]$b[0].certificateStoreName
  $res.sslflags = [string]$b[0].sslFlags
}
rd_out $res
