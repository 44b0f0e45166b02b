/**
 * libvirt-style errors. Each carries libvirt's error code name (as in
 * virErrorNumber, e.g. VIR_ERR_XML_ERROR) and the message text virsh prints
 * after "error: ", built the way libvirt builds it: a fixed prefix per code
 * followed by the detail.
 */
export type VirErrorCode =
  | 'VIR_ERR_INTERNAL_ERROR'
  | 'VIR_ERR_NO_SUPPORT'
  | 'VIR_ERR_INVALID_ARG'
  | 'VIR_ERR_XML_ERROR'
  | 'VIR_ERR_XML_DETAIL'
  | 'VIR_ERR_OPERATION_FAILED'
  | 'VIR_ERR_OPERATION_INVALID'
  | 'VIR_ERR_OPERATION_UNSUPPORTED'
  | 'VIR_ERR_CONFIG_UNSUPPORTED'
  | 'VIR_ERR_ARGUMENT_UNSUPPORTED'
  | 'VIR_ERR_OVERFLOW'
  | 'VIR_ERR_NO_DOMAIN'
  | 'VIR_ERR_NO_NAME'
  | 'VIR_ERR_NO_SOURCE'
  | 'VIR_ERR_NO_TARGET'
  | 'VIR_ERR_INVALID_DOMAIN'
  | 'VIR_ERR_SYSTEM_ERROR'
  | 'VIR_ERR_NO_CONNECT'
  | 'VIR_ERR_NO_NETWORK'
  | 'VIR_ERR_INVALID_CONN'
  | 'VIR_ERR_DEVICE_MISSING';

/** How libvirt's virErrorMsg() renders each code around the detail text. */
const FORMATS: Record<VirErrorCode, (detail: string) => string> = {
  VIR_ERR_INTERNAL_ERROR: (d) => `internal error: ${d}`,
  VIR_ERR_NO_SUPPORT: (d) => `this function is not supported by the connection driver: ${d}`,
  VIR_ERR_INVALID_ARG: (d) => `invalid argument: ${d}`,
  VIR_ERR_XML_ERROR: (d) => `XML error: ${d}`,
  // libxml2 parse errors are reported verbatim.
  VIR_ERR_XML_DETAIL: (d) => d,
  VIR_ERR_OPERATION_FAILED: (d) => `operation failed: ${d}`,
  VIR_ERR_OPERATION_INVALID: (d) => `Requested operation is not valid: ${d}`,
  VIR_ERR_OPERATION_UNSUPPORTED: (d) => `Operation not supported: ${d}`,
  VIR_ERR_CONFIG_UNSUPPORTED: (d) => `unsupported configuration: ${d}`,
  VIR_ERR_ARGUMENT_UNSUPPORTED: (d) => `argument unsupported: ${d}`,
  VIR_ERR_OVERFLOW: (d) => `numerical overflow: ${d}`,
  VIR_ERR_NO_DOMAIN: (d) => `Domain not found: ${d}`,
  VIR_ERR_NO_NAME: (d) => (d ? `missing name information in ${d}` : 'missing name information'),
  VIR_ERR_NO_SOURCE: (d) => (d ? `missing source information for device ${d}` : 'missing source information'),
  VIR_ERR_NO_TARGET: (d) => (d ? `missing target information for device ${d}` : 'missing target information'),
  VIR_ERR_INVALID_DOMAIN: (d) => (d ? `invalid domain pointer in ${d}` : 'invalid domain pointer'),
  // System errors already carry "<what failed>: <strerror>".
  VIR_ERR_SYSTEM_ERROR: (d) => d,
  VIR_ERR_NO_NETWORK: (d) => `Network not found: ${d}`,
  VIR_ERR_NO_CONNECT: (d) => (d ? `no connection driver available for ${d}` : 'no connection driver available'),
  VIR_ERR_INVALID_CONN: (d) => (d ? `invalid connection pointer in ${d}` : 'invalid connection pointer'),
  VIR_ERR_DEVICE_MISSING: (d) => `device not found: ${d}`,
};

export class VirError extends Error {
  readonly code: VirErrorCode;
  readonly detail: string;

  constructor(code: VirErrorCode, detail: string) {
    super(FORMATS[code](detail));
    this.name = 'VirError';
    this.code = code;
    this.detail = detail;
  }
}

export const xmlError = (detail: string): VirError => new VirError('VIR_ERR_XML_ERROR', detail);
export const unsupported = (detail: string): VirError => new VirError('VIR_ERR_CONFIG_UNSUPPORTED', detail);
export const internalError = (detail: string): VirError => new VirError('VIR_ERR_INTERNAL_ERROR', detail);
export const invalidArg = (detail: string): VirError => new VirError('VIR_ERR_INVALID_ARG', detail);

/** libvirt's "Invalid value for attribute 'A' in element 'E': 'V'." */
export const invalidAttr = (attr: string, element: string, value: string): VirError =>
  xmlError(`Invalid value for attribute '${attr}' in element '${element}': '${value}'.`);

/** libvirt's "Invalid value 'V' for element or attribute 'XPATH'". */
export const invalidValue = (value: string, xpath: string): VirError =>
  xmlError(`Invalid value '${value}' for element or attribute '${xpath}'`);
