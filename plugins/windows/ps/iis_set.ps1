# iis_set.ps1 — binds certificate $P.new (from LocalMachine\My; '' to
# unbind) to the binding, guarded: only while it holds $P.expect.
# RemoveSslCertificate + AddSslCertificate; if adding fails the previous
# certificate is put back. {state: set|already|mismatch, found, hash}.
$b = @(rdw_binding)
if ($b.Count -ne 1) { rd_fail "expected one $($P.protocol) binding on port $($P.port) of '$($P.site)', found $($b.Count)" }
$b = $b[0]
$found = ([string]$b.certificateHash).ToUpperInvariant()
$new = ''
if ([string]$P.new) { $new = rdw_thumb ([string]$P.new) 'new certificate' }
$expect = ''
if ([string]$P.expect) { $expect = rdw_thumb ([string]$P.expect) 'expected certificate' }
$state = 'set'
if ($found -eq $new) {
  $state = 'already'
} elseif ($found -ne $expect) {
  $state = 'mismatch'
} else {
  if ($new -and -not (rdw_find 'Cert:\LocalMachine\My' $new)) { rd_fail "certificate $new is not in LocalMachine\My" }
  if ($found) { $b.RemoveSslCertificate() }
  if ($new) {
    try {
      $b.AddSslCertificate($new, 'My')
    } catch {
      $err = $_.Exception.Message
      if ($found) { $b.AddSslCertificate($found, 'My') }
      rd_fail "binding $($b.bindingInformation): cannot bind $new`: $err"
    }
  }
}
$after = @(rdw_binding)
rd_out ([ordered]@{ state = $state; found = $found; hash = ([string]$after[0].certificateHash).ToUpperInvariant() })
