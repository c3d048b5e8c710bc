{{/* ---------- names and labels ---------- */}}

{{- define "cisco-tftp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cisco-tftp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "cisco-tftp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cisco-tftp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cisco-tftp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cisco-tftp.labels" -}}
helm.sh/chart: {{ include "cisco-tftp.chart" . }}
{{ include "cisco-tftp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cisco-tftp
{{- end -}}

{{/* The component label of the pods: what they run. */}}
{{- define "cisco-tftp.component" -}}
{{- if include "cisco-tftp.isKea" . -}}dhcp-tftp{{- else -}}tftp{{- end -}}
{{- end -}}

{{- define "cisco-tftp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cisco-tftp.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* ---------- modes (each returns "true" or the empty string) ---------- */}}

{{- define "cisco-tftp.isKea" -}}
{{- if hasPrefix "kea-" .Values.mode -}}true{{- end -}}
{{- end -}}

{{/* The pod is on the node's network. */}}
{{- define "cisco-tftp.hostNetwork" -}}
{{- if or (eq .Values.mode "kea-hostnetwork") (eq .Values.mode "sidecar-daemonset") -}}true{{- end -}}
{{- end -}}

{{/* TFTP reaches the pod through a Service (NAT): single-port mode is mandatory. */}}
{{- define "cisco-tftp.behindService" -}}
{{- if or (eq .Values.mode "kea-relay") (eq .Values.mode "sidecar-service") -}}true{{- end -}}
{{- end -}}

{{- define "cisco-tftp.workloadKind" -}}
{{- if eq .Values.mode "sidecar-daemonset" -}}DaemonSet{{- else -}}Deployment{{- end -}}
{{- end -}}

{{/* The port the sidecar listens on for TFTP inside the pod. */}}
{{- define "cisco-tftp.tftpListenPort" -}}
{{- if include "cisco-tftp.behindService" . -}}{{ int .Values.sidecar.containerPort }}{{- else -}}{{ int .Values.sidecar.tftpPort }}{{- end -}}
{{- end -}}

{{/* The port Kea listens on inside the pod. */}}
{{- define "cisco-tftp.keaListenPort" -}}
{{- if eq .Values.mode "kea-relay" -}}{{ int .Values.kea.port }}{{- else -}}67{{- end -}}
{{- end -}}

{{/* The sidecar's effective port_mode. */}}
{{- define "cisco-tftp.portMode" -}}
{{- $m := .Values.sidecar.portMode -}}
{{- if include "cisco-tftp.behindService" . -}}
{{- if not (has $m (list "auto" "single-port")) -}}
{{- fail (printf "sidecar.portMode=%s: in mode %s TFTP goes through a Service (NAT), where only single-port works; use auto or single-port" $m .Values.mode) -}}
{{- end -}}
single-port
{{- else if eq $m "auto" -}}
ephemeral
{{- else -}}
{{- $m -}}
{{- end -}}
{{- end -}}

{{/* Capabilities of the sidecar container: NET_BIND_SERVICE only for a port below 1024. */}}
{{- define "cisco-tftp.sidecarCaps" -}}
{{- if or (lt (int (include "cisco-tftp.tftpListenPort" .)) 1024) (lt (int .Values.sidecar.metricsPort) 1024) -}}
["NET_BIND_SERVICE"]
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{/* Capabilities of the Kea container: raw sockets and port 67 on the node's network; none
     when it only takes relayed unicast on an unprivileged port. */}}
{{- define "cisco-tftp.keaCaps" -}}
{{- if eq .Values.mode "kea-hostnetwork" -}}
["NET_BIND_SERVICE", "NET_RAW"]
{{- else if lt (int .Values.kea.port) 1024 -}}
["NET_BIND_SERVICE"]
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{/* A container security context: non-root, read-only root, drop ALL, add $caps. Added
     capabilities reach a non-root process only through file capabilities on its binary,
     which no_new_privs (allowPrivilegeEscalation: false) would block: so that flag is
     false exactly when nothing is added. */}}
{{- define "cisco-tftp.containerSecurityContext" -}}
{{- $caps := fromJsonArray .caps -}}
allowPrivilegeEscalation: {{ if $caps }}true{{ else }}false{{ end }}
readOnlyRootFilesystem: true
runAsNonRoot: true
{{- with .runAsUser }}
runAsUser: {{ . }}
{{- end }}
privileged: false
capabilities:
  drop: ["ALL"]
  {{- if $caps }}
  add: {{ toJson $caps }}
  {{- end }}
{{- end -}}

{{- define "cisco-tftp.image" -}}
{{- printf "%s:%s" .repository (toString .tag) -}}
{{- end -}}

{{/* ---------- the Kea release series (kea.version) ---------- */}}

{{/* Kea's image: the tag defaults to <appVersion>-kea<series> (one image per series, as a
     hook binary loads only into the Kea release it was built for). */}}
{{- define "cisco-tftp.keaImage" -}}
{{- $tag := .Values.kea.image.tag | toString | default (printf "%s-kea%s" .Chart.AppVersion .Values.kea.version) -}}
{{- printf "%s:%s" .Values.kea.image.repository $tag -}}
{{- end -}}

{{/* Kea 2.6.3+ and 3.0 load hooks only from their hooks directory and resolve a bare file
     name there; 2.2 needs the path. */}}
{{- define "cisco-tftp.keaHooksDir" -}}/usr/lib/x86_64-linux-gnu/kea/hooks{{- end -}}

{{- define "cisco-tftp.keaEnforcesPaths" -}}
{{- if ne .Values.kea.version "2.2" -}}true{{- end -}}
{{- end -}}

{{- define "cisco-tftp.hookLibrary" -}}
{{- $lib := .Values.kea.hookLibrary -}}
{{- if not $lib -}}
{{- if include "cisco-tftp.keaEnforcesPaths" . -}}libdhcp_cisco_tftp.so{{- else -}}{{ include "cisco-tftp.keaHooksDir" . }}/libdhcp_cisco_tftp.so{{- end -}}
{{- else -}}
{{- if and (include "cisco-tftp.keaEnforcesPaths" .) (hasPrefix "/" $lib) (ne (dir $lib) (include "cisco-tftp.keaHooksDir" .)) -}}
{{- fail (printf "kea.hookLibrary=%s: Kea %s loads hooks only from its hooks directory %s; give the file name alone" $lib .Values.kea.version (include "cisco-tftp.keaHooksDir" .)) -}}
{{- end -}}
{{- if and (not (include "cisco-tftp.keaEnforcesPaths" .)) (not (hasPrefix "/" $lib)) -}}
{{- fail (printf "kea.hookLibrary=%s: Kea 2.2 does not look for a bare file name in its hooks directory; give the full path" $lib) -}}
{{- end -}}
{{- $lib -}}
{{- end -}}
{{- end -}}

{{/* The sidecar reaches Kea's control socket as a member of Kea's group (its own uid) only
     where Kea makes the socket group-writable (3.0.3+; Debian's 3.0 is 3.0.4); on 2.2 and
     2.6.3 it must run as Kea's user. Prints the sidecar's uid, or nothing for the pod's. */}}
{{- define "cisco-tftp.sidecarRunAsUser" -}}
{{- if and (include "cisco-tftp.isKea" .) (eq .Values.kea.version "3.0") -}}
{{- int .Values.sidecar.runAsUser -}}
{{- end -}}
{{- end -}}

{{/* ---------- rendered configuration ---------- */}}

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

{{/* ---------- checks that the schema cannot express ---------- */}}
{{- define "cisco-tftp.validate" -}}
{{- if include "cisco-tftp.isKea" . -}}
{{- if gt (int .Values.replicaCount) 1 -}}
{{- fail "replicaCount: kea-* modes run one Kea (one lease file); use Kea's HA hook across two releases for redundancy" -}}
{{- end -}}
{{- $p := .Values.kea.hookParameters -}}
{{- if not (or $p.servers $p.families $p.models $p.sites) -}}
{{- fail "kea.hookParameters: set at least one server list (servers, families, models or sites), e.g. servers: [\"<the TFTP address phones reach>\"]" -}}
{{- end -}}
{{- end -}}
{{- if and (eq .Values.tftpRoot.type "none") (not .Values.origin.url) -}}
{{- fail "tftpRoot.type=none needs origin.url: the sidecar needs a root, an origin or both" -}}
{{- end -}}
{{- if and .Values.cache.disk.enabled (not .Values.origin.url) -}}
{{- fail "cache.disk.enabled: the disk cache holds origin files only; set origin.url" -}}
{{- end -}}
{{- if and (eq .Values.tftpRoot.type "pvc") (not .Values.tftpRoot.existingClaim) -}}
{{- fail "tftpRoot.type=pvc needs tftpRoot.existingClaim" -}}
{{- end -}}
{{- if and (eq .Values.tftpRoot.type "configMap") (not .Values.tftpRoot.configMap) -}}
{{- fail "tftpRoot.type=configMap needs tftpRoot.configMap (the ConfigMap's name)" -}}
{{- end -}}
{{- if and (eq .Values.tftpRoot.type "hostPath") (not .Values.tftpRoot.hostPath) -}}
{{- fail "tftpRoot.type=hostPath needs tftpRoot.hostPath" -}}
{{- end -}}
{{- if and .Values.cache.disk.enabled (eq .Values.cache.disk.type "pvc") (eq .Values.mode "sidecar-daemonset") -}}
{{- fail "cache.disk.type=pvc: a DaemonSet cannot share one claim between nodes; use emptyDir" -}}
{{- end -}}
{{- end -}}
