"""Bar chart (SVG, no plotting library needed) of peak memory per rank from
bench/train/run.sh's CSV: workers,cpp_ddp,cpp_fsdp,py_ddp,py_fsdp2 (MB).

  python bench/train/plot_memory.py bench/out/train_memory.csv bench/train/memory.svg
"""
import csv
import sys

SERIES = [("cpp_ddp", "C++ DDP", "#4c72b0"), ("cpp_fsdp", "C++ FSDP (per layer)", "#55a868"),
          ("py_ddp", "Python DDP", "#c44e52"), ("py_fsdp2", "Python FSDP2", "#dd8452")]


def main(src, dst):
    rows = list(csv.DictReader(open(src)))
    top = max(float(r[k]) for r in rows for k, _, _ in SERIES) * 1.1
    width, height, left, bottom = 640, 320, 60, 40
    plot_h = height - bottom - 40
    group_w = (width - left - 20) / len(rows)
    bar_w = group_w / (len(SERIES) + 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="16" font-size="13">Peak memory per rank (VmHWM, MB), '
           f'8 x 1024 transformer</text>']
    for t in range(0, int(top) + 1, max(1, int(top / 5) // 100 * 100 or 100)):
        y = height - bottom - plot_h * t / top
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 20}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{t}</text>')
    for g, r in enumerate(rows):
        x0 = left + g * group_w + bar_w / 2
        for i, (key, _, color) in enumerate(SERIES):
            v = float(r[key])
            h = plot_h * v / top
            x = x0 + i * bar_w
            out.append(f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{bar_w * 0.9:.1f}" '
                       f'height="{h:.1f}" fill="{color}"/>')
            out.append(f'<text x="{x + bar_w * 0.45:.1f}" y="{height - bottom - h - 3:.1f}" '
                       f'text-anchor="middle" font-size="9">{v:.0f}</text>')
        out.append(f'<text x="{x0 + bar_w * 2:.1f}" y="{height - bottom + 16}" '
                   f'text-anchor="middle">{r["workers"]} workers</text>')
    for i, (_, label, color) in enumerate(SERIES):
        x = left + i * 140
        out.append(f'<rect x="{x}" y="{height - 14}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{x + 14}" y="{height - 5}">{label}</text>')
    out.append('</svg>')
    open(dst, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
