"""Pictures of what the store holds (coverage heatmaps), drawn with matplotlib off-screen.

matplotlib is imported inside the drawing functions only, so importing this package costs nothing
to a run that publishes no chart.
"""
