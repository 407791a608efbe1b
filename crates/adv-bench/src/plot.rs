//! The curves of a suite report as SVG and PNG figures: per model and threat model, accuracy
//! against epsilon (all attacks), and accuracy against attack strength for each attack family
//! (iterations for white-box attacks, queries for black-box ones).

use std::path::{Path, PathBuf};
use std::sync::Once;

use adv_core::Knowledge;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::{format_epsilon, write_atomically};
use crate::{BenchError, Result, SuiteReport};

/// One figure: named lines, and point sets drawn as markers only.
struct Figure {
    title: String,
    x_label: &'static str,
    lines: Vec<(String, Vec<(f32, f32)>)>,
    points: Vec<(String, Vec<(f32, f32)>)>,
}

/// Draws every figure of `report` into `dir`; returns the files written.
pub(crate) fn write_plots(report: &SuiteReport, dir: &Path) -> Result<Vec<PathBuf>> {
    register_font();
    std::fs::create_dir_all(dir).map_err(|e| BenchError::io(dir, e))?;
    let mut written = Vec::new();
    for evaluation in &report.evaluations {
        let r = &evaluation.report;
        let stem = file_stem(&format!("{}-{}", evaluation.model, r.norm));
        let title = format!("{} ({}, {})", evaluation.model, r.norm, r.goal.name());
        written.extend(write_figure(
            &epsilon_figure(&title, r),
            dir,
            &format!("{stem}-epsilon"),
        )?);
        for (family, x_label) in [
            (Knowledge::WhiteBox, "iterations"),
            (Knowledge::ScoreBased, "queries per sample"),
            (Knowledge::DecisionBased, "queries per sample"),
        ] {
            let lines: Vec<(String, Vec<(f32, f32)>)> = r
                .results
                .iter()
                // A minimal-distance attack's iterates are not bounded by epsilon, so its
                // per-step curve says nothing about strength at a budget.
                .filter(|a| {
                    let info = a.config.info();
                    info.access == family && !info.minimizes_distance
                })
                .filter_map(|a| {
                    let points = if family == Knowledge::WhiteBox {
                        steps(&a.accuracy_per_step)
                    } else {
                        a.accuracy_per_query
                            .iter()
                            .map(|&(q, accuracy)| (q as f32, accuracy))
                            .collect()
                    };
                    (points.len() > 2).then(|| {
                        (
                            format!("{} eps={}", a.attack, format_epsilon(a.epsilon)),
                            points,
                        )
                    })
                })
                .collect();
            if lines.is_empty() {
                continue;
            }
            let name = match family {
                Knowledge::WhiteBox => "white-box",
                Knowledge::ScoreBased => "score-based",
                _ => "decision-based",
            };
            let figure = Figure {
                title: format!("{title}: {name} attacks"),
                x_label,
                lines,
                points: Vec::new(),
            };
            written.extend(write_figure(
                &figure,
                dir,
                &format!("{stem}-{name}-strength"),
            )?);
        }
    }
    Ok(written)
}

/// Accuracy against epsilon: the minimal-epsilon curves when computed, and the fixed-epsilon
/// results (per attack and worst case) as markers.
fn epsilon_figure(title: &str, r: &crate::EvalReport) -> Figure {
    let mut lines: Vec<(String, Vec<(f32, f32)>)> = r
        .epsilon_curves
        .iter()
        .map(|c| {
            (
                format!("{} (minimal eps)", c.attack),
                c.accuracy.iter().map(|&(e, a)| (e, 100.0 * a)).collect(),
            )
        })
        .collect();
    let mut points = Vec::new();
    let mut labels: Vec<&str> = r.results.iter().map(|a| a.attack.as_str()).collect();
    labels.dedup();
    for label in labels {
        let at: Vec<(f32, f32)> = std::iter::once((0.0, 100.0 * r.clean_accuracy))
            .chain(
                r.results
                    .iter()
                    .filter(|a| a.attack == label)
                    .map(|a| (a.epsilon, 100.0 * a.robust_accuracy)),
            )
            .collect();
        if r.epsilon_curves.is_empty() {
            lines.push((label.to_owned(), at));
        } else {
            points.push((format!("{label} (fixed eps)"), at));
        }
    }
    points.push((
        "worst case".into(),
        r.worst_case
            .iter()
            .map(|w| (w.epsilon, 100.0 * w.robust_accuracy))
            .collect(),
    ));
    Figure {
        title: title.to_owned(),
        x_label: "epsilon",
        lines,
        points,
    }
}

fn steps(accuracy: &[f32]) -> Vec<(f32, f32)> {
    accuracy
        .iter()
        .enumerate()
        .map(|(step, &a)| (step as f32, 100.0 * a))
        .collect()
}

/// Writes `figure` as `stem.svg` and `stem.png` in `dir`.
fn write_figure(figure: &Figure, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    let size = (900, 560);
    let svg = dir.join(format!("{stem}.svg"));
    let png = dir.join(format!("{stem}.png"));
    let failed = |path: &Path, e: String| {
        BenchError::InvalidArgument(format!("cannot draw {}: {e}", path.display()))
    };
    // Each file drawn beside its place and renamed: a kill or a full disk never leaves half a
    // plot, nor truncates the previous one.
    write_atomically(&svg, |partial| {
        draw(SVGBackend::new(partial, size).into_drawing_area(), figure)
            .map_err(|e| failed(&svg, e.to_string()))
    })?;
    write_atomically(&png, |partial| {
        draw(
            BitMapBackend::new(partial, size).into_drawing_area(),
            figure,
        )
        .map_err(|e| failed(&png, e.to_string()))
    })?;
    Ok(vec![svg, png])
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    figure: &Figure,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let x_max = figure
        .lines
        .iter()
        .chain(&figure.points)
        .flat_map(|(_, p)| p.iter().map(|&(x, _)| x))
        .fold(0.0f32, f32::max)
        .max(1e-6);
    let mut chart = ChartBuilder::on(&root)
        .caption(&figure.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(0f32..x_max * 1.02, 0f32..101f32)?;
    chart
        .configure_mesh()
        .x_desc(figure.x_label)
        .y_desc("accuracy (%)")
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()?;
    for (k, (name, line)) in figure.lines.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        chart
            .draw_series(LineSeries::new(line.iter().copied(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    for (k, (name, points)) in figure.points.iter().enumerate() {
        let color = Palette99::pick(figure.lines.len() + k).to_rgba();
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&point| Cross::new(point, 6, color.stroke_width(2))),
            )?
            .label(name)
            .legend(move |(x, y)| Cross::new((x + 10, y), 6, color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()
}

/// Bitmaps need a font to draw text: DejaVu Sans, compiled in, so no system font is needed.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font is a valid TrueType file; failure would only lose PNG labels.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// `name` with every character outside `[A-Za-z0-9._-]` replaced by `-`.
fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}
