{{/* Checks that the schema cannot express (values.schema.json holds the rest). Included
     once, by configmap.yaml (every mode renders it). */}}

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
