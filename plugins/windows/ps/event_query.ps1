# event_query.ps1 — the newest event $P.id from provider $P.provider in
# log $P.log written at or after $P.since (seconds since 1970 on this
# host's clock; 0: any time), polling every 5 s for at most $P.wait
# seconds; also the newest of the $P.failure_ids events from the same
# provider (the service's "could not load" events), which ends the wait.
# {log_exists, found, time, record_id, provider, message, now,
#  failure: {id, time, message} or null}.
$log = [string]$P.log
$id = [int]$P.id
$since = [long]$P.since
$wait = [int]$P.wait
$provider = [string]$P.provider
if (-not $provider -or $provider -match '[*?\[\]]') { rd_fail "event provider '$provider' must be one provider's exact name" }
if ($wait -lt 0 -or $wait -gt 3600) { $wait = 0 }
$failIds = @(foreach ($f in @($P.failure_ids)) { if ($null -ne $f) { [int]$f } })
$res = [ordered]@{ log_exists = $false; found = $false; time = $null; record_id = $null; provider = $null; message = $null; now = (rdw_epoch ([DateTime]::UtcNow)); failure = $null }
if (Get-WinEvent -ListLog $log -ErrorAction SilentlyContinue) {
  $res.log_exists = $true
  $filter = @{ LogName = $log; Id = $id; ProviderName = $provider }
  if ($since -gt 0) {
    $filter.StartTime = (New-Object DateTime 1970, 1, 1, 0, 0, 0, ([DateTimeKind]::Utc)).AddSeconds($since).ToLocalTime()
  }
  $deadline = [DateTime]::UtcNow.AddSeconds($wait)
  while ($true) {
    $ev = Get-WinEvent -FilterHashtable $filter -MaxEvents 1 -ErrorAction SilentlyContinue
    if ($ev -and $ev.ProviderName -ne $provider) { rd_fail "Get-WinEvent returned event $id from '$($ev.ProviderName)', not from '$provider'" }
    $bad = $null
    if ($failIds.Count -gt 0) {
      $ff = $filter.Clone()
      $ff.Id = $failIds
      $bad = Get-WinEvent -FilterHashtable $ff -MaxEvents 1 -ErrorAction SilentlyContinue
      if ($bad -and $bad.ProviderName -ne $provider) { $bad = $null }
    }
    if ($ev -or $bad -or [DateTime]::UtcNow -ge $deadline) { break }
    Start-Sleep -Seconds 5
  }
  if ($ev) {
    $msg = [string]$ev.Message
    if ($msg.Length -gt 300) { $msg = $msg.Substring(0, 300) }
    $res.found = $true
    $res.time = rdw_epoch $ev.TimeCreated
    $res.record_id = $ev.RecordId
    $res.provider = $ev.ProviderName
    $res.message = $msg
  }
  if ($bad) {
    $bm = [string]$bad.Message
    if ($bm.Length -gt 300) { $bm = $bm.Substring(0, 300) }
    $res.failure = [ordered]@{ id = $bad.Id; time = (rdw_epoch $bad.TimeCreated); message = $bm }
  }
}
$res.now = rdw_epoch ([DateTime]::UtcNow)
rd_out $res
