//! Is this a macOS executable, for which CPU, and will macOS start it? Read
//! its Mach-O header and load commands.
//!
//! The macOS wheels are cross-built on Linux, where nothing can run them; a
//! wrong target or linker would still produce a file with the right name. So
//! the header is read: the 64-bit magic, the CPU type (x86_64 or arm64), the
//! file type (an executable, not a library or an object), and whether a code
//! signature load command is present: on Apple silicon the kernel kills an
//! arm64 executable without one before its first instruction.
//!
//! Only the little-endian 64-bit header and the load command table are read,
//! as in [`crate::elf`]: a few lines, against a dependency for the same.

use std::fmt;

/// `MH_MAGIC_64`, read little-endian (the file starts `cf fa ed fe`).
const MH_MAGIC_64: u32 = 0xfeed_facf;
/// The same magic written big-endian (a big-endian file).
const MH_CIGAM_64: u32 = 0xcffa_edfe;
/// `FAT_MAGIC`: a universal binary, several architectures in one file. Its
/// header is big-endian, so read little-endian it is `CIGAM`.
const FAT_CIGAM: u32 = 0xbeba_feca;
const MH_EXECUTE: u32 = 2;
const CPU_TYPE_X86_64: u32 = 0x0100_0007;
const CPU_TYPE_ARM64: u32 = 0x0100_000c;
const LC_CODE_SIGNATURE: u32 = 0x1d;
/// `mach_header_64`: magic, cputype, cpusubtype, filetype, ncmds,
/// sizeofcmds, flags, reserved.
const HEADER_SIZE: usize = 32;

/// The CPU a Mach-O file is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cpu {
    X86_64,
    Arm64,
    Other(u32),
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cpu::X86_64 => f.write_str("x86_64"),
            Cpu::Arm64 => f.write_str("arm64"),
            Cpu::Other(cputype) => write!(f, "cputype {cputype:#x}"),
        }
    }
}

/// A Mach-O executable, as far as starting it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Executable {
    pub cpu: Cpu,
    /// Has an `LC_CODE_SIGNATURE` (the linker's ad-hoc signature at least).
    pub signed: bool,
}

impl fmt::Display for Executable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let signature = if self.signed { "signed" } else { "unsigned" };
        write!(f, "Mach-O {} executable, {signature}", self.cpu)
    }
}

/// Why a file could not be read as a Mach-O executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotMachO(pub String);

impl fmt::Display for NotMachO {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotMachO {}

fn not(reason: &str) -> NotMachO {
    NotMachO(reason.to_owned())
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn usize_at(bytes: &[u8], at: usize) -> Option<usize> {
    usize::try_from(u32_at(bytes, at)?).ok()
}

/// Reads a 64-bit little-endian Mach-O executable's CPU and signature.
pub fn executable(bytes: &[u8]) -> Result<Executable, NotMachO> {
    match u32_at(bytes, 0) {
        Some(MH_MAGIC_64) => {}
        Some(FAT_CIGAM) => return Err(not("a universal (fat) Mach-O file, not one architecture")),
        Some(MH_CIGAM_64) => return Err(not("a big-endian Mach-O file")),
        _ => return Err(not("not a 64-bit Mach-O file")),
    }
    let truncated = || not("truncated Mach-O header");
    let cpu = match u32_at(bytes, 4).ok_or_else(truncated)? {
        CPU_TYPE_X86_64 => Cpu::X86_64,
        CPU_TYPE_ARM64 => Cpu::Arm64,
        other => Cpu::Other(other),
    };
    let filetype = u32_at(bytes, 12).ok_or_else(truncated)?;
    if filetype != MH_EXECUTE {
        return Err(NotMachO(format!("a Mach-O file of type {filetype}, not an executable ({MH_EXECUTE})")));
    }
    let ncmds = usize_at(bytes, 16).ok_or_else(truncated)?;
    let sizeofcmds = usize_at(bytes, 20).ok_or_else(truncated)?;
    let end = HEADER_SIZE.saturating_add(sizeofcmds);
    if bytes.len() < end {
        return Err(not("truncated load command table"));
    }

    let mut signed = false;
    let mut at = HEADER_SIZE;
    for _ in 0..ncmds {
        // Each load command starts with its type and its size (type included).
        let cmd = u32_at(bytes, at).ok_or_else(|| not("truncated load command table"))?;
        let cmdsize = usize_at(bytes, at + 4).ok_or_else(|| not("truncated load command table"))?;
        if cmdsize < 8 || at.saturating_add(cmdsize) > end {
            return Err(not("a load command runs outside the load command table"));
        }
        signed |= cmd == LC_CODE_SIGNATURE;
        at += cmdsize;
    }
    Ok(Executable { cpu, signed })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `mach_header_64` with the given CPU and file type, followed by one
    /// 16-byte load command of each given type.
    fn macho_with(cputype: u32, filetype: u32, commands: &[u32]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let ncmds = u32::try_from(commands.len()).unwrap_or(0);
        for field in [MH_MAGIC_64, cputype, 0, filetype, ncmds, 16 * ncmds, 0, 0] {
            bytes.extend(field.to_le_bytes());
        }
        for &cmd in commands {
            bytes.extend(cmd.to_le_bytes());
            bytes.extend(16u32.to_le_bytes());
            bytes.extend([0u8; 8]);
        }
        bytes
    }

    #[test]
    fn reads_cpu_and_signature_of_synthetic_headers() {
        let arm64 = macho_with(CPU_TYPE_ARM64, MH_EXECUTE, &[0x19, LC_CODE_SIGNATURE]);
        assert_eq!(executable(&arm64), Ok(Executable { cpu: Cpu::Arm64, signed: true }));
        let x86_64 = macho_with(CPU_TYPE_X86_64, MH_EXECUTE, &[0x19, 0x0e]);
        assert_eq!(executable(&x86_64), Ok(Executable { cpu: Cpu::X86_64, signed: false }));
        let ppc = macho_with(0x0100_0012, MH_EXECUTE, &[]);
        assert_eq!(executable(&ppc).map(|e| e.cpu), Ok(Cpu::Other(0x0100_0012)));
        assert_eq!(executable(&arm64).map(|e| e.to_string()), Ok("Mach-O arm64 executable, signed".to_owned()));
    }

    #[test]
    fn rejects_what_is_not_one_64_bit_executable() {
        let reason = |bytes: &[u8]| executable(bytes).map_err(|e| e.0).err().unwrap_or_default();
        let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0";
        assert_eq!(reason(elf), "not a 64-bit Mach-O file");
        assert_eq!(
            reason(&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2]),
            "a universal (fat) Mach-O file, not one architecture"
        );
        assert_eq!(reason(&[0xfe, 0xed, 0xfa, 0xcf]), "a big-endian Mach-O file");
        assert_eq!(reason(&MH_MAGIC_64.to_le_bytes()), "truncated Mach-O header");
        let dylib = macho_with(CPU_TYPE_ARM64, 6, &[]);
        assert_eq!(reason(&dylib), "a Mach-O file of type 6, not an executable (2)");
        let mut cut = macho_with(CPU_TYPE_ARM64, MH_EXECUTE, &[0x19, LC_CODE_SIGNATURE]);
        cut.truncate(HEADER_SIZE + 20);
        assert_eq!(reason(&cut), "truncated load command table");
        let mut overlong = macho_with(CPU_TYPE_ARM64, MH_EXECUTE, &[0x19]);
        overlong[HEADER_SIZE + 4..HEADER_SIZE + 8].copy_from_slice(&64u32.to_le_bytes());
        assert_eq!(reason(&overlong), "a load command runs outside the load command table");
        let mut zero = macho_with(CPU_TYPE_ARM64, MH_EXECUTE, &[0x19]);
        zero[HEADER_SIZE + 4..HEADER_SIZE + 8].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(reason(&zero), "a load command runs outside the load command table");
    }
}
