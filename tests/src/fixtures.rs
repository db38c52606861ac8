//! A builder for the projects end-to-end tests release: the release.toml and the files it
//! names, written once, so that a test states only what it is about.
//!
//! ```no_run
//! let project = release_tests::fixtures::Fixture::new("1.2.3")
//!     .name("hello")
//!     .command_build("app", "the app\n")
//!     .github("acme/hello")
//!     .changelog("## [1.2.3] - 2026-12-01\n\n- First.\n")
//!     .project();
//! ```

use crate::Project;

/// What a test project holds; [`Fixture::project`] writes it.
#[derive(Clone, Debug)]
pub struct Fixture {
    version: String,
    name: Option<String>,
    builds: Vec<String>,
    github: Option<String>,
    github_settings: Vec<String>,
    charts: Vec<String>,
    extra: Vec<String>,
    files: Vec<(String, Vec<u8>)>,
}

impl Fixture {
    /// A project at `version` (`project.version`), with a `.gitignore` for its build output.
    pub fn new(version: &str) -> Self {
        Fixture {
            version: version.to_owned(),
            name: None,
            builds: Vec::new(),
            github: None,
            github_settings: Vec::new(),
            charts: Vec::new(),
            extra: Vec::new(),
            files: vec![(".gitignore".into(), b"/dist/\n/out/\n".to_vec())],
        }
    }

    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// A `command` build `name` that copies `src/<name>.txt` (holding `contents`) to
    /// `out/<name>`, its one artifact.
    pub fn command_build(mut self, name: &str, contents: &str) -> Self {
        self.builds.push(format!(
            "[[build]]\nname = \"{name}\"\ncommand = [\"sh\", \"-c\", \"mkdir -p out && cp src/{name}.txt out/{name}\"]\nartifacts = [\"out/{name}\"]\n"
        ));
        self.file(&format!("src/{name}.txt"), contents)
    }

    /// A `[github]` section for `repository`.
    pub fn github(mut self, repository: &str) -> Self {
        self.github = Some(repository.to_owned());
        self
    }

    /// One more line of `[github]` (`generate-notes = true`).
    pub fn github_setting(mut self, line: &str) -> Self {
        self.github_settings.push(line.to_owned());
        self
    }

    /// A `[[chart]]` at `path` with this Chart.yaml, and more lines of its table.
    pub fn chart(mut self, path: &str, chart_yaml: &str, settings: &str) -> Self {
        self.charts.push(format!("[[chart]]\npath = \"{path}\"\n{settings}"));
        self.file(&format!("{path}/Chart.yaml"), chart_yaml)
    }

    /// `CHANGELOG.md`, under a `# Changelog` title.
    pub fn changelog(self, sections: &str) -> Self {
        self.file("CHANGELOG.md", format!("# Changelog\n\n{sections}"))
    }

    /// More TOML at the end of release.toml (whole sections).
    pub fn toml(mut self, text: &str) -> Self {
        self.extra.push(text.to_owned());
        self
    }

    /// Any other file.
    pub fn file(mut self, rel: &str, contents: impl AsRef<[u8]>) -> Self {
        self.files.retain(|(r, _)| r != rel);
        self.files.push((rel.to_owned(), contents.as_ref().to_vec()));
        self
    }

    /// The release.toml this fixture writes.
    pub fn release_toml(&self) -> String {
        let mut toml = String::from("[project]\n");
        if let Some(name) = &self.name {
            toml.push_str(&format!("name = \"{name}\"\n"));
        }
        toml.push_str(&format!("version = \"{}\"\n", self.version));
        for section in self.builds.iter().chain(&self.charts) {
            toml.push('\n');
            toml.push_str(section);
        }
        if let Some(repository) = &self.github {
            toml.push_str(&format!("\n[github]\nrepository = \"{repository}\"\n"));
            for line in &self.github_settings {
                toml.push_str(line);
                toml.push('\n');
            }
        }
        for text in &self.extra {
            toml.push('\n');
            toml.push_str(text);
        }
        toml
    }

    /// A new project holding the files and the release.toml.
    pub fn project(self) -> Project {
        let project = Project::new();
        for (rel, contents) in &self.files {
            project.file(rel, contents);
        }
        project.config(&self.release_toml());
        project
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_toml_names_what_the_fixture_holds() {
        let fixture = Fixture::new("1.2.3")
            .name("hello")
            .command_build("app", "the app\n")
            .chart("charts/web", "apiVersion: v2\nname: web\nversion: 0.1.0\n", "stamp-app-version = true\n")
            .github("acme/hello")
            .github_setting("generate-notes = true");
        assert_eq!(
            fixture.release_toml(),
            "[project]\nname = \"hello\"\nversion = \"1.2.3\"\n\n[[build]]\nname = \"app\"\ncommand = [\"sh\", \"-c\", \"mkdir -p out && cp src/app.txt out/app\"]\nartifacts = [\"out/app\"]\n\n[[chart]]\npath = \"charts/web\"\nstamp-app-version = true\n\n[github]\nrepository = \"acme/hello\"\ngenerate-notes = true\n"
        );
        let config: toml::Table = fixture.release_toml().parse().unwrap();
        assert_eq!(config["github"]["repository"].as_str(), Some("acme/hello"));
        let project = fixture.project();
        assert_eq!(project.read("src/app.txt"), "the app\n");
        assert!(project.exists("charts/web/Chart.yaml") && project.exists(".gitignore"));
    }
}
