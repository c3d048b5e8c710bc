{{/* The rendered configuration: the sidecar's TOML (and the environment matching it) and
     Kea's JSON. */}}

{{/* TOML from a map: scalars and arrays first, then sub-tables. Helm reads numbers as
     floats; whole numbers are written as TOML integers (the sidecar's integer keys need
     them, and its float keys accept them). */}}
{{- define "cisco-tftp.tomlValue" -}}
{{- $v := . -}}
{{- if kindIs "string" $v -}}{{ toJson $v }}
{{- else if kindIs "bool" $v -}}{{ ternary "true" "false" $v }}
{{- else if or (kindIs "float64" $v) (kindIs "float32" $v) -}}
{{- if eq (float64 $v) (floor $v) -}}{{ printf "%d" (int64 $v) }}{{- else -}}{{ toString $v }}{{- end -}}
{{- else if or (kindIs "int" $v) (kindIs "int64" $v) (kindIs "int32" $v) -}}{{ printf "%d" $v }}
{{- else if kindIs "slice" $v -}}[{{- range $i, $e := $v -}}{{ if $i }}, {{ end }}{{ include "cisco-tftp.tomlValue" $e }}{{- end -}}]
{{- else -}}{{ fail (printf "cannot write %v (%s) as a TOML value" $v (kindOf $v)) }}
{{- end -}}
{{- end -}}

{{- define "cisco-tftp.toml" -}}
{{- $m := .map -}}
{{- $prefix := .prefix -}}
{{- range $k := keys $m | sortAlpha -}}
{{- $v := get $m $k -}}
{{- if and (not (kindIs "map" $v)) (not (kindIs "invalid" $v)) }}
{{ $k }} = {{ include "cisco-tftp.tomlValue" $v }}
{{- end -}}
{{- end -}}
{{- range $k := keys $m | sortAlpha -}}
{{- $v := get $m $k -}}
{{- if kindIs "map" $v }}

[{{ if $prefix }}{{ $prefix }}.{{ end }}{{ $k }}]
{{- include "cisco-tftp.toml" (dict "map" $v "prefix" (ternary (printf "%s.%s" $prefix $k) $k (ne $prefix ""))) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The sidecar's settings as a map: the user's config, then what the chart manages. */}}
{{- define "cisco-tftp.sidecarConfigMap" -}}
{{- $c := mergeOverwrite (deepCopy .Values.sidecar.config) (deepCopy .Values.sidecar.extraConfig) -}}
{{- $store := deepCopy (default (dict) (get $c "store")) -}}
{{- $addr := .Values.sidecar.listenAddress -}}
{{- if contains ":" $addr -}}{{- $addr = printf "[%s]" $addr -}}{{- end -}}
{{- $_ := set $c "listen" (list (printf "%s:%s" $addr (include "cisco-tftp.tftpListenPort" .))) -}}
{{- $_ := set $c "metrics_listen" (printf "%s:%d" $addr (int .Values.sidecar.metricsPort)) -}}
{{- if .Values.sidecar.httpPort -}}
{{- $_ := set $c "http_listen" (list (printf "%s:%d" $addr (int .Values.sidecar.httpPort))) -}}
{{- else -}}
{{- $_ := set $c "http_listen" "off" -}}
{{- end -}}
{{- $mode := include "cisco-tftp.portMode" . -}}
{{- $_ := set $c "port_mode" $mode -}}
{{- if eq $mode "range" -}}
{{- $_ := set $c "port_range" (required "sidecar.portRange is required with portMode range (e.g. 50000-50100)" .Values.sidecar.portRange) -}}
{{- end -}}
{{- if ne .Values.tftpRoot.type "none" -}}
{{- $_ := set $c "root" .Values.tftpRoot.mountPath -}}
{{- end -}}
{{- if .Values.origin.url -}}
{{- $_ := set $store "origin-url" .Values.origin.url -}}
{{- end -}}
{{- if .Values.cache.disk.enabled -}}
{{- $_ := set $store "disk-dir" .Values.cache.disk.mountPath -}}
{{- $_ := set $store "disk-max-bytes" .Values.cache.disk.maxBytes -}}
{{- end -}}
{{- /* HTTP bodies of large files are sent from a copy: on the cache volume when there is one,
     in memory otherwise (the pod's /tmp is a small emptyDir). */ -}}
{{- if not (hasKey $c "http_sendfile_dir") -}}
{{- $_ := set $c "http_sendfile_dir" (ternary .Values.cache.disk.mountPath "memory" .Values.cache.disk.enabled) -}}
{{- end -}}
{{- if include "cisco-tftp.isKea" . -}}
{{- $_ := set $c "kea" (dict "control-socket" .Values.kea.controlSocket "poll-interval" .Values.kea.statsPollInterval) -}}
{{- end -}}
{{- if $store -}}
{{- $_ := set $c "store" $store -}}
{{- else -}}
{{- $_ := unset $c "store" -}}
{{- end -}}
{{- toJson $c -}}
{{- end -}}

{{/* Environment matching the TOML for every variable the sidecar image sets
     (packaging/docker/tftp-sidecar.Dockerfile), since variables win over the file. */}}
{{- define "cisco-tftp.sidecarEnv" -}}
{{- $c := include "cisco-tftp.sidecarConfigMap" . | fromJson -}}
{{- $env := dict
  "TFTP_SIDECAR_LISTEN" (join "," $c.listen)
  "TFTP_SIDECAR_PORT_MODE" $c.port_mode
  "TFTP_SIDECAR_METRICS_LISTEN" $c.metrics_listen
  "TFTP_SIDECAR_HTTP_LISTEN" (ternary "off" (join "," $c.http_listen) (eq (kindOf $c.http_listen) "string"))
  "TFTP_SIDECAR_LOG_FORMAT" (default "text" $c.log_format)
-}}
{{- with $c.root -}}{{- $_ := set $env "TFTP_SIDECAR_ROOT" . -}}{{- end -}}
{{- with $c.port_range -}}{{- $_ := set $env "TFTP_SIDECAR_PORT_RANGE" . -}}{{- end -}}
{{- toJson $env -}}
{{- end -}}

{{- define "cisco-tftp.sidecarToml" -}}
# tftp-sidecar settings, rendered by the cisco-tftp chart (mode {{ .Values.mode }}).
{{- include "cisco-tftp.toml" (dict "map" (include "cisco-tftp.sidecarConfigMap" . | fromJson) "prefix" "") }}
{{ end -}}

{{/* Kea's configuration. */}}
{{- define "cisco-tftp.keaConfig" -}}
{{- $k := .Values.kea -}}
{{- $hostNet := include "cisco-tftp.hostNetwork" . -}}
{{- $hook := dict "library" (include "cisco-tftp.hookLibrary" .) "parameters" $k.hookParameters -}}
{{- $hooks := append (deepCopy $k.extraHooks) $hook -}}
{{- $d := dict
  "interfaces-config" (dict "interfaces" $k.interfaces "dhcp-socket-type" (ternary "raw" "udp" (eq $hostNet "true")))
  "control-socket" (dict "socket-type" "unix" "socket-name" $k.controlSocket)
  "lease-database" (dict "type" "memfile" "persist" true "name" "/var/lib/kea/kea-leases4.csv" "lfc-interval" 3600)
  "valid-lifetime" $k.validLifetime
  "subnet4" $k.subnets
  "hooks-libraries" $hooks
  "loggers" (list (dict "name" "kea-dhcp4" "severity" $k.logSeverity "output_options" (list (dict "output" "stdout"))))
-}}
{{- range $key, $v := $k.extraDhcp4 -}}
{{- if hasKey $d $key -}}
{{- fail (printf "kea.extraDhcp4.%s: the chart manages this key; use the matching kea.* value" $key) -}}
{{- end -}}
{{- $_ := set $d $key $v -}}
{{- end -}}
{{- dict "Dhcp4" $d | toPrettyJson -}}
{{- end -}}
