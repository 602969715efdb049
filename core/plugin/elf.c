/* core/plugin/elf.c — is a plugin file an ELF cut short (a segment, the
 * program or section headers past its end)?  The registry asks before a
 * file is scanned, so a half-copied plugin is refused with a reason that
 * says so, rather than whatever dlopen makes of it (declared in scan.h).
 * Reading a plugin's descriptor, in a forked child, is scan.c's job. */
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/scan.h"

static int pread_all(int fd, void *p, size_t n, off_t off)
{
	ssize_t r = pread(fd, p, n, off);
	return r == (ssize_t)n ? 0 : -1;
}

int pb_elf_truncated(const char *path, char *why, size_t len)
{
	unsigned char id[EI_NIDENT];
	struct stat st;
	uint64_t size, phoff, shoff, need = 0;
	unsigned phnum, phentsize, shnum, shentsize, ehsize;
	const char *what = NULL;
	int is64, rc = 0;

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || pread_all(fd, id, sizeof id, 0) < 0 ||
	    memcmp(id, ELFMAG, SELFMAG) || (id[EI_CLASS] != ELFCLASS32 && id[EI_CLASS] != ELFCLASS64))
		goto out;   /* not ELF, or too short to tell: dlopen says why */
	size = (uint64_t)st.st_size;
	is64 = id[EI_CLASS] == ELFCLASS64;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (id[EI_DATA] != ELFDATA2LSB)
		goto out;   /* another machine's file: dlopen refuses it */
#else
	if (id[EI_DATA] != ELFDATA2MSB)
		goto out;
#endif
	if (is64) {
		Elf64_Ehdr eh;
		if (size < sizeof eh) {
			need = sizeof eh;
			what = "ELF header";
			goto cut;
		}
		if (pread_all(fd, &eh, sizeof eh, 0) < 0)
			goto out;
		phoff = eh.e_phoff, shoff = eh.e_shoff, ehsize = eh.e_ehsize;
		phnum = eh.e_phnum, phentsize = eh.e_phentsize;
		shnum = eh.e_shnum, shentsize = eh.e_shentsize;
	} else {
		Elf32_Ehdr eh;
		if (size < sizeof eh) {
			need = sizeof eh;
			what = "ELF header";
			goto cut;
		}
		if (pread_all(fd, &eh, sizeof eh, 0) < 0)
			goto out;
		phoff = eh.e_phoff, shoff = eh.e_shoff, ehsize = eh.e_ehsize;
		phnum = eh.e_phnum, phentsize = eh.e_phentsize;
		shnum = eh.e_shnum, shentsize = eh.e_shentsize;
	}
	(void)ehsize;
	need = phoff + (uint64_t)phnum * phentsize;
	if (phnum && need > size) {
		what = "program headers";
		goto cut;
	}
	if (phentsize != (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)) || phnum > 4096)
		goto sections;
	for (unsigned i = 0; i < phnum; i++) {
		uint64_t type, o, fsz;
		if (is64) {
			Elf64_Phdr ph;
			if (pread_all(fd, &ph, sizeof ph, (off_t)(phoff + (uint64_t)i * phentsize)) < 0)
				goto out;
			type = ph.p_type, o = ph.p_offset, fsz = ph.p_filesz;
		} else {
			Elf32_Phdr ph;
			if (pread_all(fd, &ph, sizeof ph, (off_t)(phoff + (uint64_t)i * phentsize)) < 0)
				goto out;
			type = ph.p_type, o = ph.p_offset, fsz = ph.p_filesz;
		}
		if (type != PT_LOAD && type != PT_DYNAMIC)
			continue;
		need = o + fsz;
		if (need > size) {
			what = type == PT_LOAD ? "loadable segments" : "dynamic section";
			goto cut;
		}
	}
sections:
	/* not needed to load, but a file cut there is not the file that was built */
	need = shoff + (uint64_t)shnum * shentsize;
	if (shoff && need > size) {
		what = "section headers";
		goto cut;
	}
	goto out;
cut:
	snprintf(why, len, "%s: truncated ELF: the file is %llu bytes but its %s end at byte "
		 "%llu (a half-copied install or an interrupted build?)", path,
		 (unsigned long long)size, what, (unsigned long long)need);
	rc = 1;
out:
	close(fd);
	return rc;
}
