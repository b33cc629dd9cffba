# log_query.ps1 — waits (every 5 s, at most $P.wait seconds) for a line of
# text log $P.path (the last MiB; the file is shared with the service
# writing it) that contains $P.contains, without case. Read-only.
# {exists, found, line, errors: the last three lines with "ERROR" when not found}.
$path = [string]$P.path
if ($path -notmatch '^[A-Za-z]:\\' -or $path.Contains('..')) { rd_fail "log file '$path' is not an absolute path" }
$needle = [string]$P.contains
if (-not $needle) { rd_fail 'nothing to look for' }
$wait = [int]$P.wait
if ($wait -lt 0 -or $wait -gt 3600) { $wait = 0 }
$res = [ordered]@{ exists = $false; found = $false; line = $null; errors = @() }
$deadline = [DateTime]::UtcNow.AddSeconds($wait)
$lines = @()
while ($true) {
  if (Test-Path -LiteralPath $path -PathType Leaf) {
    $res.exists = $true
    $fs = [System.IO.File]::Open((rdw_path_of $path), [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]::ReadWrite)
    try {
      [void]$fs.Seek([Math]::Max(0, $fs.Length - 1048576), [System.IO.SeekOrigin]::Begin)
      $text = (New-Object System.IO.StreamReader $fs).ReadToEnd()
    } finally { $fs.Dispose() }
    $lines = @($text -split "`r?`n")
    $hit = $lines | Where-Object { $_.IndexOf($needle, [System.StringComparison]::OrdinalIgnoreCase) -ge 0 } | Select-Object -Last 1
    if ($hit) {
      $res.found = $true
      $res.line = ([string]$hit).Substring(0, [Math]::Min(400, ([string]$hit).Length))
    }
  }
  if ($res.found -or [DateTime]::UtcNow -ge $deadline) { break }
  Start-Sleep -Seconds 5
}
if (-not $res.found) {
  $res.errors = @($lines | Where-Object { $_ -match 'ERROR' } | Select-Object -Last 3 | ForEach-Object { $_.Substring(0, [Math]::Min(300, $_.Length)) })
}
rd_out $res
