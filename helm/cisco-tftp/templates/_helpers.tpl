{{/* Names and labels. Mode logic: _mode.tpl; the Kea release series: _kea.tpl; container
     pieces: _container.tpl; rendered configuration: _config.tpl; checks: _validate.tpl. */}}

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
