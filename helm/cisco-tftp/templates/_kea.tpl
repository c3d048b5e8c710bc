{{/* What the Kea release series (kea.version) decides: the image, the hook's library
     name and how the sidecar reaches Kea's control socket. */}}

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
