//! Checks on the files a command reads and writes, made before any work: an output never
//! overwrites an input or another output, and it can be written where it is named.

use std::path::{Path, PathBuf};

use crate::{BenchError, Result};

/// `path` made absolute with its symbolic links resolved; for a file that does not exist yet,
/// its nearest existing folder's canonical path with the rest appended.
fn canonical(path: &Path) -> PathBuf {
    if let Ok(found) = path.canonicalize() {
        return found;
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut rest = Vec::new();
    let mut base = absolute.as_path();
    while let Some(parent) = base.parent() {
        rest.push(base.file_name().map(PathBuf::from).unwrap_or_default());
        if let Ok(found) = parent.canonicalize() {
            return rest.iter().rev().fold(found, |path, part| path.join(part));
        }
        base = parent;
    }
    absolute
}

/// An error unless `path` can be written as a file: it is not a folder, and no folder it would
/// go into is a file.
pub fn check_output(flag: &str, path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(BenchError::InvalidArgument(format!(
            "{flag} {} is a folder: name a file",
            path.display()
        )));
    }
    let mut parent = path.parent();
    while let Some(folder) = parent.filter(|p| !p.as_os_str().is_empty()) {
        if folder.exists() {
            if !folder.is_dir() {
                return Err(BenchError::InvalidArgument(format!(
                    "{flag} {}: {} is not a folder",
                    path.display(),
                    folder.display()
                )));
            }
            break;
        }
        parent = folder.parent();
    }
    Ok(())
}

/// An error unless every output (flag, path) can be written and differs from every input and
/// every other output, paths compared after resolving links and `..`.
pub fn check_distinct(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<()> {
    for (i, &(flag, output)) in outputs.iter().enumerate() {
        check_output(flag, output)?;
        let target = canonical(output);
        let clash = inputs
            .iter()
            .map(|&(other, path)| (other, path, "read"))
            .chain(
                outputs[..i]
                    .iter()
                    .map(|&(other, path)| (other, path, "written")),
            )
            .find(|&(_, path, _)| canonical(path) == target);
        if let Some((other, path, role)) = clash {
            return Err(BenchError::InvalidArgument(format!(
                "{flag} {} is the file {other} {} names, which is {role} by this command: \
                 choose another path",
                output.display(),
                path.display(),
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_never_equal_inputs_or_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let weights = dir.path().join("w.bpk");
        std::fs::write(&weights, b"x").unwrap();
        let report = dir.path().join("r.json");
        let same = dir.path().join("sub/../w.bpk");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(check_distinct(&[("--weights", &weights)], &[("--json", &report)]).is_ok());
        let error = check_distinct(&[("--weights", &weights)], &[("--json", &same)])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("--json") && error.contains("--weights"),
            "{error}"
        );
        assert!(check_distinct(&[], &[("--json", &report), ("--markdown", &report)]).is_err());
        #[cfg(unix)]
        {
            let link = dir.path().join("link.json");
            std::os::unix::fs::symlink(&weights, &link).unwrap();
            assert!(check_distinct(&[("--weights", &weights)], &[("--json", &link)]).is_err());
        }
        assert!(check_output("--out", dir.path()).is_err());
        assert!(check_output("--json", &weights.join("r.json")).is_err());
        assert!(check_output("--json", &dir.path().join("new/deeper/r.json")).is_ok());
    }
}
