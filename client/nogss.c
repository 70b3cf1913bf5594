/* SPDX-License-Identifier: ISC */
/*
 * nogss.c: linked only into the static bart_clnt.  libtirpc.a refers
 * to the GSS-API (RPCSEC_GSS), which bart never uses; linking the real
 * Kerberos libraries would cost every one-shot command their loading.
 * These stand-ins fail every GSS call with GSS_S_FAILURE, so an
 * RPCSEC_GSS call reaching the chat callback is refused, not crashed.
 * Every GSS-API call takes OM_uint32 *minor_status first.
 */
#include <stddef.h>
#include <stdint.h>

#define GSS_S_FAILURE	(13u << 16)

#define NOGSS(name)						\
	uint32_t name(uint32_t *);				\
	uint32_t						\
	name(uint32_t *minor)					\
	{							\
		if (minor != NULL)				\
			*minor = 0;				\
		return GSS_S_FAILURE;				\
	}

NOGSS(gss_accept_sec_context)
NOGSS(gss_acquire_cred)
NOGSS(gss_canonicalize_name)
NOGSS(gss_delete_sec_context)
NOGSS(gss_display_name)
NOGSS(gss_display_status)
NOGSS(gss_duplicate_name)
NOGSS(gss_export_name)
NOGSS(gss_get_mic)
NOGSS(gss_import_name)
NOGSS(gss_init_sec_context)
NOGSS(gss_pname_to_uid)
NOGSS(gss_release_buffer)
NOGSS(gss_release_cred)
NOGSS(gss_release_name)
NOGSS(gss_sign)
NOGSS(gss_unwrap)
NOGSS(gss_verify_mic)
NOGSS(gss_wrap)
NOGSS(gss_wrap_size_limit)

/* Name types libtirpc reads: no mechanism, no name type. */
extern void *GSS_C_NT_HOSTBASED_SERVICE, *GSS_C_NT_USER_NAME;
void *GSS_C_NT_HOSTBASED_SERVICE = NULL;
void *GSS_C_NT_USER_NAME = NULL;
