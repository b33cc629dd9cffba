# adcs_task.ps1 — runs certreq -submit / -retrieve or certutil -dump as
# SYSTEM: a Kerberos-less SSH key logon cannot reach the CA (0x800706ba,
# the double hop), the machine account can. $RdwInner (task_inner.ps1,
# put in front of this text by the plugin) becomes task.ps1 in the work
# directory, its arguments task.json (paths as .NET opens them, rdw_path_of); a one-off task \renewd\<name> runs it,
# is waited for (at most $P.wait seconds) and always unregistered.
# A submission is never repeated unless $P.fresh (the orchestrator saw it
# fail before it reached the CA): if its result file exists it is returned
# again ("reused"); if it started but left no result, the state is
# "unknown" and nothing is sent.
$action = [string]$P.action
if (@('submit', 'retrieve', 'dump') -notcontains $action) { rd_fail "unknown certreq action '$action'" }
$config = [string]$P.config
if ($action -ne 'dump' -and $config -notmatch '^[^"\\\r\n]+\\[^"\\\r\n]+\z') { rd_fail "CA configuration '$config' is not <CA host>\<CA name>" }
$rid = [string]$P.request_id
if ($action -eq 'retrieve' -and $rid -notmatch '^[0-9]{1,10}\z') { rd_fail "request id '$rid' is not a number" }
$wait = [int]$P.wait
if ($wait -lt 5 -or $wait -gt 3600) { $wait = 120 }
$dir = rdw_workdir ([string]$P.nonce)
$out = Join-Path $dir ('out-' + $action + '.json')
$started = Join-Path $dir ($action + '.started')
$res = [ordered]@{ state = 'done'; reused = $false; exit = $null; text = ''; cer = $null; error = $null; task_result = $null; cainfo = $null; ad = @(); ad_error = $null }
$run = $true
$keep = $action -eq 'submit' -and $P.fresh -ne $true
if ($keep -and (Test-Path -LiteralPath $out)) {
  $run = $false
  $res.reused = $true
} elseif ($keep -and (Test-Path -LiteralPath $started)) {
  $run = $false
  $res.state = 'unknown'
} else {
  Remove-Item -LiteralPath $out, $started -Force -ErrorAction SilentlyContinue
}
if ($run) {
  $taskArgs = [ordered]@{
    action = $action; config = $config; request_id = $rid
    req = (rdw_path_of (Join-Path $dir 'renewal.req')); cer = (rdw_path_of (Join-Path $dir 'renewal.cer'))
    out = (rdw_path_of $out); started = (rdw_path_of $started)
  }
  [System.IO.File]::WriteAllText((rdw_path_of (Join-Path $dir 'task.json')), (ConvertTo-Json -InputObject $taskArgs -Compress))
  $taskFile = Join-Path $dir 'task.ps1'
  [System.IO.File]::WriteAllText((rdw_path_of $taskFile), $RdwInner, (New-Object System.Text.UTF8Encoding $true))
  $name = 'renewd-' + $action + '-' + [string]$P.nonce
  $tp = '\renewd\'
  $act = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument ('-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "' + $taskFile + '"')
  # SYSTEM by its SID (S-1-5-18): its name is localised ("NT-AUTORITÄT\SYSTEM")
  $system = rdw_account_of 'S-1-5-18'
  $who = New-ScheduledTaskPrincipal -UserId $system -LogonType ServiceAccount -RunLevel Highest
  $set = New-ScheduledTaskSettingsSet -ExecutionTimeLimit (New-TimeSpan -Seconds ($wait + 60)) -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries
  [void](Register-ScheduledTask -TaskName $name -TaskPath $tp -Action $act -Principal $who -Settings $set -Force)
  try {
    Start-ScheduledTask -TaskName $name -TaskPath $tp
    $deadline = [DateTime]::UtcNow.AddSeconds($wait)
    $seen = $false
    while (-not (Test-Path -LiteralPath $out) -and [DateTime]::UtcNow -lt $deadline) {
      Start-Sleep -Milliseconds 500
      $st = [string](Get-ScheduledTask -TaskName $name -TaskPath $tp).State
      if ($st -eq 'Running') { $seen = $true }
      elseif ($seen) {
        Start-Sleep -Seconds 1
        break
      }
    }
    $res.task_result = (Get-ScheduledTaskInfo -TaskName $name -TaskPath $tp).LastTaskResult
  } finally {
    Stop-ScheduledTask -TaskName $name -TaskPath $tp -ErrorAction SilentlyContinue
    Unregister-ScheduledTask -TaskName $name -TaskPath $tp -Confirm:$false -ErrorAction SilentlyContinue
  }
}
if ($res.state -eq 'done') {
  if (Test-Path -LiteralPath $out) {
    $o = [System.IO.File]::ReadAllText((rdw_path_of $out)) | ConvertFrom-Json
    $res.exit = $o.exit
    $res.text = [string]$o.text
    $res.cer = $o.cer
    $res.error = $o.error
    $res.cainfo = $o.cainfo
    $res.ad = @($o.ad | Where-Object { $_ })
    $res.ad_error = $o.ad_error
  } else {
    $res.state = 'timeout'
  }
}
rd_out $res
