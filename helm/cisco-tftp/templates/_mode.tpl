{{/* What `mode` implies: the workload, the network, ports, port_mode and capabilities.
     The predicates return "true" or the empty string. */}}

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
