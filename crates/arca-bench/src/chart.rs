//! The PNG chart: one panel per storage kind, a horizontal bar per server and cell
//! (requests/s, log scale), and across each cell's two bars a black line at the floor's
//! requests/s at that concurrency (when measured). Text uses DejaVu Sans from the `dejavu`
//! crate, so no system font is needed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::error::BenchError;
use crate::report::{Cell, Report};
use crate::server::Storage;

const ARCA: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const OPENBAO: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
const ROW_PX: u32 = 16;

fn register_fonts() -> Result<(), BenchError> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        if register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_err() {
            result = Err(BenchError::Chart(
                "the embedded DejaVu Sans font is invalid".into(),
            ));
        }
    });
    result
}

fn chart_err(e: impl std::fmt::Display) -> BenchError {
    BenchError::Chart(e.to_string())
}

/// Draws the report's measured cells into a PNG at `path`.
pub fn render(report: &Report, path: &Path) -> Result<(), BenchError> {
    register_fonts()?;
    let mut storages: Vec<Storage> = Vec::new();
    for c in &report.cells {
        if c.arca.is_some() && !storages.contains(&c.storage) {
            storages.push(c.storage);
        }
    }
    if storages.is_empty() {
        return Err(BenchError::Chart("no measured cell to draw".into()));
    }
    let panels: Vec<Vec<&Cell>> = storages
        .iter()
        .map(|s| {
            report
                .cells
                .iter()
                .filter(|c| c.storage == *s && c.arca.is_some() && c.openbao.is_some())
                .collect()
        })
        .collect();
    let rows = panels.iter().map(Vec::len).max().unwrap_or(1) as u32 * 2;
    let height = rows * ROW_PX + 110;
    let width = 810 * storages.len() as u32;
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(chart_err)?;
    let areas = root.split_evenly((1, storages.len()));
    for ((area, storage), cells) in areas.iter().zip(&storages).zip(&panels) {
        let floors: Vec<Option<f64>> = cells
            .iter()
            .map(|c| report.cell_floor(c).map(|f| f.rps))
            .collect();
        draw_panel(area, *storage, cells, &floors)?;
    }
    root.present().map_err(chart_err)
}

fn draw_panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    storage: Storage,
    cells: &[&Cell],
    floors: &[Option<f64>],
) -> Result<(), BenchError> {
    let mut bars: Vec<(String, f64, RGBColor)> = Vec::new();
    for c in cells {
        let label = format!("{} c{}", c.workload, c.concurrency);
        for (name, summary, color) in [("Arca", &c.arca, ARCA), ("OpenBao", &c.openbao, OPENBAO)] {
            let Some(s) = summary else { continue };
            // Under reloads the failures matter as much as the rate: name them on the bar.
            let failed = if s.reloads.is_some() {
                format!(" ({} failed)", s.errors)
            } else {
                String::new()
            };
            bars.push((format!("{label} {name}{failed}"), s.rps, color));
        }
    }
    let max = bars
        .iter()
        .map(|b| b.1)
        .chain(floors.iter().flatten().copied())
        .fold(10.0, f64::max)
        * 2.0;
    let n = bars.len();
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(
            if floors.iter().any(Option::is_some) {
                format!("{storage} storage: requests/s (log scale); black line: floor")
            } else {
                format!("{storage} storage: requests/s (log scale)")
            },
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(280)
        .build_cartesian_2d((1f64..max).log_scale(), (0..n).into_segmented())
        .map_err(chart_err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .x_desc("requests/s")
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(chart_err)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v, color))| {
            let mut r = Rectangle::new(
                [
                    (1.0, SegmentValue::Exact(i)),
                    (v.max(1.0), SegmentValue::Exact(i + 1)),
                ],
                color.filled(),
            );
            r.set_margin(2, 2, 0, 0);
            r
        }))
        .map_err(chart_err)?;
    // Each measured cell has two bars (Arca, OpenBao): the floor line spans both.
    chart
        .draw_series(floors.iter().enumerate().filter_map(|(k, f)| {
            let f = (*f)?;
            Some(PathElement::new(
                vec![
                    (f, SegmentValue::Exact(2 * k)),
                    (f, SegmentValue::Exact(2 * k + 2)),
                ],
                BLACK.stroke_width(2),
            ))
        }))
        .map_err(chart_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample_report;

    #[test]
    fn renders_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.png");
        render(&sample_report(), &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert!(bytes.len() > 2000);
        render(&crate::report::tests::with_floor(sample_report()), &path).unwrap();
        let with_floor = std::fs::read(&path).unwrap();
        assert_ne!(bytes, with_floor, "the floor lines are drawn");
    }
}
