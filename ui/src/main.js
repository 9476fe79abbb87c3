import uPlot from 'uplot';

document.getElementById('app').textContent = `Gatehouse console (uPlot ${typeof uPlot})`;
