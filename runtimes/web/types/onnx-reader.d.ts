/**
 * The named initializers and the set of node op types of an ONNX model's main graph.
 * @param {Uint8Array} bytes the whole .onnx file
 * @param {string[]} names initializers to return (others are skipped without decoding their data)
 * @returns {{initializers: Record<string, Tensor|undefined>, ops: Set<string>}}
 */
export function readOnnxGraph(bytes: Uint8Array, names: string[]): {
    initializers: Record<string, Tensor | undefined>;
    ops: Set<string>;
};
/**
 * A typed array over a tensor's values: a view into the file when aligned, else one aligned copy.
 * float16 comes back as the Uint16Array of its bit patterns. Only raw_data is read for every type;
 * float_data (packed float32) is read for FLOAT as well.
 * @param {Tensor} tensor
 * @returns {TensorArray}
 */
export function tensorValues(tensor: Tensor): TensorArray;
/** TensorProto.DataType codes this runtime reads. */
export const DataType: Readonly<{
    FLOAT: 1;
    UINT8: 2;
    INT8: 3;
    INT64: 7;
    FLOAT16: 10;
}>;
export type TensorArray = Float32Array | Uint8Array | Int8Array | Uint16Array | BigInt64Array;
/**
 * One protobuf field: a varint's `value`, or a length-delimited field's bytes [start, end).
 */
export type Field = {
    field: number;
    wire: number;
    value: number;
    start: number;
    end: number;
};
/**
 * A tensor initializer as read from the file; `data` is a view of its bytes, never a copy.
 */
export type Tensor = {
    name: string;
    dims: number[];
    /**
     * TensorProto.DataType code
     */
    dataType: number;
    /**
     * raw_data, or the packed float_data / int32_data / int64_data bytes
     */
    data: Uint8Array | null;
    /**
     * the TensorProto field `data` came from
     */
    dataField: number | null;
    /**
     * the values are stored outside the file
     */
    external: boolean;
};
