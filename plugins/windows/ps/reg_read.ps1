# reg_read.ps1 — one registry value: {key_exists, exists, kind, text|hex}.
if (-not [string]$P.value) { rd_fail 'no registry value name' }
rd_out (rdw_regread (rdw_regpath ([string]$P.key)) ([string]$P.value))
