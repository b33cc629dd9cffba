/* scep_csr.h — the SCEP issuer's names for the shared CSR builder
 * (plugins/common/csr.h), kept so that the SCEP sources need not change. */
#ifndef RENEWD_SCEP_CSR_H
#define RENEWD_SCEP_CSR_H
#include "common/csr.h"

typedef rd_csr_build scep_csr_build;
#define scep_csr_build_new rd_csr_build_new
#define scep_csr_build_free rd_csr_build_free
#define scep_csr_build_digest rd_csr_build_digest
#define scep_csr_build_finish rd_csr_build_finish

#endif
