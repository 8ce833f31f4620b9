//! Is this binary static? Read its ELF program headers and look for an
//! interpreter.
//!
//! A dynamically linked executable names its loader (`/lib64/ld-linux…`) in a
//! `PT_INTERP` program header; the kernel runs that loader first, and in an
//! image whose libc differs, or a root filesystem with none at all, the
//! binary then fails with a baffling "No such file or directory". A static
//! executable has no `PT_INTERP`. A static-pie one still has `PT_DYNAMIC` (it
//! relocates itself) but needs no loader, so it counts as static.
//!
//! The machine field says which CPU the file is for: the aarch64 wheel is
//! cross-built, and nothing here can run it.
//!
//! Only the ELF64 little-endian header and the program header table are read:
//! about forty lines, against a dependency for the same.

use std::fmt;

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

/// How an executable is linked, as far as starting it is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linkage {
    /// No interpreter and no dynamic section.
    Static,
    /// No interpreter; relocates itself at start.
    StaticPie,
    /// Needs the named program interpreter (the dynamic loader).
    Dynamic { interpreter: String },
}

impl Linkage {
    pub fn is_static(&self) -> bool {
        !matches!(self, Linkage::Dynamic { .. })
    }
}

impl fmt::Display for Linkage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Linkage::Static => f.write_str("static"),
            Linkage::StaticPie => f.write_str("static-pie"),
            Linkage::Dynamic { interpreter } => write!(f, "dynamic (interpreter {interpreter})"),
        }
    }
}

/// The CPU an ELF file is built for (`e_machine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    X86_64,
    Aarch64,
    Other(u16),
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Machine::X86_64 => f.write_str("x86_64"),
            Machine::Aarch64 => f.write_str("aarch64"),
            Machine::Other(machine) => write!(f, "e_machine {machine}"),
        }
    }
}

/// Why a file could not be read as an executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotElf(pub &'static str);

impl fmt::Display for NotElf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for NotElf {}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<usize> {
    let value = u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?);
    usize::try_from(value).ok()
}

fn check_ident(bytes: &[u8]) -> Result<(), NotElf> {
    if bytes.get(..4) != Some(b"\x7fELF") {
        return Err(NotElf("not an ELF file"));
    }
    // e_ident[EI_CLASS] = 2 (64-bit), e_ident[EI_DATA] = 1 (little-endian).
    if bytes.get(4..6) != Some(&[2, 1]) {
        return Err(NotElf("not a 64-bit little-endian ELF file"));
    }
    Ok(())
}

/// The CPU of an ELF64 little-endian file.
pub fn machine(bytes: &[u8]) -> Result<Machine, NotElf> {
    check_ident(bytes)?;
    Ok(match u16_at(bytes, 0x12).ok_or(NotElf("truncated ELF header"))? {
        EM_X86_64 => Machine::X86_64,
        EM_AARCH64 => Machine::Aarch64,
        other => Machine::Other(other),
    })
}

/// Classifies an ELF64 little-endian (x86-64, aarch64) executable image.
pub fn linkage(bytes: &[u8]) -> Result<Linkage, NotElf> {
    check_ident(bytes)?;
    let truncated = NotElf("truncated ELF header");
    let phoff = u64_at(bytes, 0x20).ok_or(truncated.clone())?;
    let phentsize = usize::from(u16_at(bytes, 0x36).ok_or(truncated.clone())?);
    let phnum = usize::from(u16_at(bytes, 0x38).ok_or(truncated)?);
    if phentsize < 0x38 {
        return Err(NotElf("program header entries too small"));
    }

    let mut dynamic = false;
    for index in 0..phnum {
        let header = phoff + index * phentsize;
        let p_type = u32_at(bytes, header).ok_or(NotElf("truncated program header table"))?;
        match p_type {
            PT_INTERP => {
                let offset = u64_at(bytes, header + 0x08);
                let size = u64_at(bytes, header + 0x20);
                let path = offset
                    .zip(size)
                    .and_then(|(offset, size)| bytes.get(offset..offset + size))
                    .ok_or(NotElf("interpreter path outside the file"))?;
                let interpreter = String::from_utf8_lossy(path).trim_end_matches('\0').to_owned();
                return Ok(Linkage::Dynamic { interpreter });
            }
            PT_DYNAMIC => dynamic = true,
            _ => {}
        }
    }
    Ok(if dynamic { Linkage::StaticPie } else { Linkage::Static })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header followed by program headers of the given
    /// types; a PT_INTERP one points at `/lib/ld.so\0` after the table.
    fn elf_with(types: &[u32]) -> Vec<u8> {
        let mut bytes = vec![0u8; 0x40];
        bytes[..6].copy_from_slice(b"\x7fELF\x02\x01");
        bytes[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes());
        bytes[0x36..0x38].copy_from_slice(&0x38u16.to_le_bytes());
        bytes[0x38..0x3a].copy_from_slice(&u16::try_from(types.len()).unwrap_or(0).to_le_bytes());
        let interp_at = (0x40 + 0x38 * types.len()) as u64;
        for &p_type in types {
            let mut header = vec![0u8; 0x38];
            header[..4].copy_from_slice(&p_type.to_le_bytes());
            header[0x08..0x10].copy_from_slice(&interp_at.to_le_bytes());
            header[0x20..0x28].copy_from_slice(&11u64.to_le_bytes());
            bytes.extend(header);
        }
        bytes.extend(b"/lib/ld.so\0");
        bytes
    }

    #[test]
    fn classifies_synthetic_headers() {
        assert_eq!(linkage(&elf_with(&[1, 1])), Ok(Linkage::Static));
        assert_eq!(linkage(&elf_with(&[1, PT_DYNAMIC])), Ok(Linkage::StaticPie));
        assert_eq!(
            linkage(&elf_with(&[6, PT_INTERP, PT_DYNAMIC])),
            Ok(Linkage::Dynamic { interpreter: "/lib/ld.so".to_owned() })
        );
    }

    #[test]
    fn reads_the_machine() {
        let mut bytes = elf_with(&[1]);
        assert_eq!(machine(&bytes), Ok(Machine::Other(0)));
        bytes[0x12..0x14].copy_from_slice(&EM_AARCH64.to_le_bytes());
        assert_eq!(machine(&bytes), Ok(Machine::Aarch64));
        assert_eq!(machine(b"\x7fELF\x02\x01\0\0"), Err(NotElf("truncated ELF header")));
        assert_eq!(machine(b"MZ"), Err(NotElf("not an ELF file")));
        // This machine's own tools are x86-64.
        assert_eq!(machine(&std::fs::read("/bin/true").unwrap_or_default()), Ok(Machine::X86_64));
    }

    #[test]
    fn rejects_what_is_not_an_elf64_executable() {
        assert_eq!(linkage(b"#!/bin/sh\n"), Err(NotElf("not an ELF file")));
        assert_eq!(linkage(b"\x7fELF\x01\x01"), Err(NotElf("not a 64-bit little-endian ELF file")));
        assert_eq!(linkage(b"\x7fELF\x02\x01\0\0"), Err(NotElf("truncated ELF header")));
        let mut cut = elf_with(&[1, 1]);
        cut.truncate(0x50);
        assert_eq!(linkage(&cut), Err(NotElf("truncated program header table")));
    }

    /// The host's own tools: Debian's coreutils are dynamic, busybox-static
    /// is static. Both are installed by `.ci/install-deps`.
    #[test]
    fn classifies_real_binaries() {
        let true_bin = std::fs::read("/bin/true").unwrap_or_default();
        match linkage(&true_bin) {
            Ok(Linkage::Dynamic { interpreter }) => assert!(interpreter.contains("ld-linux"), "{interpreter}"),
            other => panic!("/bin/true should be dynamic, got {other:?}"),
        }
        let busybox = std::fs::read("/bin/busybox");
        assert!(busybox.is_ok(), "/bin/busybox missing: install busybox-static (.ci/install-deps)");
        let linkage = linkage(&busybox.unwrap_or_default());
        assert!(linkage.as_ref().is_ok_and(Linkage::is_static), "{linkage:?}");
    }
}
