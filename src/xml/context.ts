/** What a parse needs to know about the host it runs for. */
import { randomBytes } from 'node:crypto';
import { arch } from 'node:os';

export interface ParseContext {
  /** Host architecture in libvirt's naming (x86_64, aarch64, …). */
  readonly hostArch: string;
  /** Emulator path filled in when a definition names none. */
  readonly defaultEmulator: string;
  /** Host security model for `<seclabel>` defaults ('none' on this driver). */
  readonly securityModel: string;
  /** Source of randomness for generated UUIDs and MACs (injectable for tests). */
  readonly random: (n: number) => Uint8Array;
}

const NODE_TO_LIBVIRT_ARCH: Record<string, string> = {
  x64: 'x86_64',
  ia32: 'i686',
  arm64: 'aarch64',
  arm: 'armv7l',
  ppc64: 'ppc64',
  s390x: 's390x',
  riscv64: 'riscv64',
};

export const hostArch = (): string => NODE_TO_LIBVIRT_ARCH[arch()] ?? arch();

/** libvirt's 32-bit companion architectures (lxcContainerGetAlt32bitArch). */
export const ALT_32BIT_ARCH: Readonly<Record<string, string>> = {
  x86_64: 'i686',
  s390x: 's390',
  ppc64: 'ppc',
  parisc64: 'parisc',
  sparc64: 'sparc',
  mips64: 'mips',
  mips64el: 'mipsel',
  aarch64: 'armv7l',
};

export function defaultContext(overrides: Partial<ParseContext> = {}): ParseContext {
  return {
    hostArch: hostArch(),
    defaultEmulator: '/usr/libexec/nsvirt/nsvirt_lxc',
    securityModel: 'none',
    random: (n) => randomBytes(n),
    ...overrides,
  };
}
